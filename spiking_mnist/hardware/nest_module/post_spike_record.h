/*
 * PostSpikeRecord: a neuron's recent spikes, kept for the stdp_dc_synapse and
 * stdp_trace_synapse connections onto it (see stdp_dc_synapse.h, stdp_trace_synapse.h).
 *
 * Each spike is kept as its time step and the step of the neuron's spike before it, from
 * which a synapse computes both of D&C's postsynaptic traces (post1, post2) without the
 * neuron integrating them: the traces are reset to 1 at each spike, so each is
 * exp(-steps since the last spike * h / tau). NEST's ArchivingNode keeps all-to-all traces
 * instead and cannot give post2 just before a spike once the spike before it is gone.
 *
 * A synapse reads each spike once (the postsynaptic spikes that reached it since it last
 * read), which the spike counts; a spike is dropped, as NEST's ArchivingNode drops its
 * history, once every connection has read it and the spike after it is older than the
 * longest delay plus the minimum delay (so the latest spike before any time a synapse may
 * still ask about is kept).
 */
#ifndef POST_SPIKE_RECORD_H
#define POST_SPIKE_RECORD_H

#include <cstddef>
#include <deque>
#include <limits>

namespace spiking_mnist
{

class PostSpikeRecord
{
public:
  //! a step long before any simulation: "no spike"
  static constexpr long NONE = std::numeric_limits< long >::min() / 4;

  struct Spike
  {
    long step;     //!< time step of the spike (NEST's spike time stamp, in steps)
    long previous; //!< step of the neuron's spike before it, or NONE
    size_t reads;  //!< how many connections have read it
  };

  /* A new connection, which will read the spikes after step ``read_until``. */
  void
  register_connection( long read_until )
  {
    for ( Spike& spike : spikes_ )
    {
      if ( spike.step <= read_until )
      {
        ++spike.reads;
      }
    }
    ++connections_;
  }

  /* ``count`` new connections that will read every spike from now on. */
  void
  register_connections( size_t count )
  {
    connections_ += count;
  }

  /* The neuron spiked at ``step``; ``keep`` is the longest delay plus the minimum delay, in
   * steps. Recorded only when connections read the record. */
  void
  spiked( long step, long keep )
  {
    if ( connections_ > 0 )
    {
      while ( spikes_.size() > 1 and spikes_.front().reads >= connections_ and step - spikes_[ 1 ].step > keep )
      {
        spikes_.pop_front();
      }
      spikes_.push_back( Spike { step, last_, 0 } );
    }
    last_ = step;
  }

  void
  clear()
  {
    spikes_.clear();
    last_ = NONE;
  }

  std::deque< Spike >&
  spikes()
  {
    return spikes_;
  }

  /* The kept spikes at steps in (first, last], as indices [begin, end) into spikes(),
   * found from the latest backwards (a synapse asks about its few newest). */
  void
  between( long first, long last, size_t& begin, size_t& end ) const
  {
    end = spikes_.size();
    while ( end > 0 and spikes_[ end - 1 ].step > last )
    {
      --end;
    }
    begin = end;
    while ( begin > 0 and spikes_[ begin - 1 ].step > first )
    {
      --begin;
    }
  }

  //! step of the neuron's latest spike, or NONE
  long
  last() const
  {
    return last_;
  }

  size_t
  size() const
  {
    return spikes_.size();
  }

private:
  std::deque< Spike > spikes_;
  size_t connections_ = 0;
  long last_ = NONE;
};

} // namespace spiking_mnist

#endif
