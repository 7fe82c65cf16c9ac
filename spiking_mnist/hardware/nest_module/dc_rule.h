/*
 * D&C's STDP rule for one synapse, as stdp_dc_synapse runs it (its header states the rule and
 * its timing): the rule's parameters, one synapse's state, and what happens at a presynaptic
 * spike and when the weight is read. Shared by stdp_dc_synapse (one NEST connection per
 * synapse) and DenseInput (the input synapses of a layer kept beside its cells), so that the
 * two learn the same weights.
 *
 * Time is in NEST's steps; ``delay`` is the synapse's (dendritic) delay in steps; the
 * postsynaptic spikes come from the target's PostSpikeRecord.
 */
#ifndef DC_RULE_H
#define DC_RULE_H

#include <algorithm>
#include <cstddef>

#include "post_spike_record.h"
#include "step_decay.h"

namespace spiking_mnist
{

//! the rule's parameters, common to the synapses of a model or layer
struct DCRuleParameters
{
  double tau_pre_ = 20.0;
  double tau_post1_ = 20.0;
  double tau_post2_ = 40.0;
  double nu_pre_ = 0.0001;
  double nu_post_ = 0.01;
  double Wmax_ = 1.0;
  bool all_to_all_ = false;
  //! all_to_all only: a read of the weight (flush) adds the potentiation due, so that
  //! normalisation scales weights that hold it, as D&C's code, where it is added at the
  //! postsynaptic spike (otherwise it waits for the next presynaptic spike)
  bool potentiate_on_read_ = false;
  StepDecay pre_;   //!< pre after a number of steps
  StepDecay post1_; //!< post1 after a number of steps
  StepDecay post2_; //!< post2 after a number of steps

  //! the decay tables, for the time step h (ms)
  void
  tabulate( double h )
  {
    pre_.set( tau_pre_, h );
    post1_.set( tau_post1_, h );
    post2_.set( tau_post2_, h );
  }
};

//! what the rule keeps for one synapse besides its weight
struct DCTraces
{
  long t_lastspike_ = PostSpikeRecord::NONE; //!< last presynaptic spike (steps)
  long t_read_ = 0;                          //!< postsynaptic spikes read up to here (steps, at the synapse)
  // all_to_all only: the summed traces just after the last presynaptic spike (pre) and after
  // the last postsynaptic spike applied (post1, post2; that spike's step at the cell)
  double pre_sum_ = 0.0;
  double post1_sum_ = 0.0;
  double post2_sum_ = 0.0;
  long t_post_ = PostSpikeRecord::NONE;
  double potentiation_ = 0.0; //!< due at the next presynaptic spike
};

//! one synapse's traces and weight
struct DCSynapseState : DCTraces
{
  double weight_ = 1.0;
};

/* Potentiation by the postsynaptic spikes that reached the synapse in (t_read_, until]:
 * spikes at steps in (t_read_ - delay, until - delay]. Returns the index in the record
 * just past them. */
inline size_t
dc_potentiate( DCTraces& s, double& weight, PostSpikeRecord& record, long delay, long until, const DCRuleParameters& cp )
{
  auto& spikes = record.spikes();
  size_t begin, end;
  record.between( s.t_read_ - delay, until - delay, begin, end );
  if ( cp.all_to_all_ )
  {
    for ( size_t i = begin; i < end; ++i )
    {
      PostSpikeRecord::Spike& spike = spikes[ i ];
      ++spike.reads;
      const long since = spike.step - s.t_post_;
      const double post2_before = s.post2_sum_ * cp.post2_( since );
      const double pre = s.pre_sum_ * cp.pre_( spike.step + delay - s.t_lastspike_ );
      s.potentiation_ += cp.nu_post_ * pre * post2_before;
      s.post1_sum_ = s.post1_sum_ * cp.post1_( since ) + 1.0;
      s.post2_sum_ = post2_before + 1.0;
      s.t_post_ = spike.step;
    }
    return end;
  }
  for ( size_t i = begin; i < end; ++i )
  {
    PostSpikeRecord::Spike& spike = spikes[ i ];
    ++spike.reads;
    if ( spike.previous != PostSpikeRecord::NONE )
    {
      // pre decayed to the spike's arrival; 0 before the first presynaptic spike
      const double pre = cp.pre_( spike.step + delay - s.t_lastspike_ );
      weight = std::min( weight + cp.nu_post_ * pre * cp.post2_( spike.step - spike.previous ), cp.Wmax_ );
    }
  }
  return end;
}

/* The learning at a presynaptic spike at ``t_spike``: with summed traces (all_to_all) or
 * with traces reset; afterwards ``weight`` is the one the spike transmits. */
inline void
dc_learn( DCTraces& s, double& weight, PostSpikeRecord& record, long delay, long t_spike, const DCRuleParameters& cp )
{
  const long at = t_spike - delay; // the time at the cell
  if ( cp.all_to_all_ )
  {
    const long t_post_read = s.t_post_;
    if ( record.last() > s.t_read_ - delay )
    {
      dc_potentiate( s, weight, record, delay, t_spike, cp );
    }
    // postsynaptic spikes whose potentiation is not in the weight yet: since the last
    // presynaptic spike, or with potentiate_on_read since the last read
    if ( cp.potentiate_on_read_ ? s.t_post_ != t_post_read
                                : ( s.t_post_ != PostSpikeRecord::NONE and s.t_post_ + delay > s.t_lastspike_ ) )
    {
      // their potentiation, clipped
      weight = std::min( weight + s.potentiation_, cp.Wmax_ );
      s.potentiation_ = 0.0;
    }
    // post1 from before a postsynaptic spike reaching the synapse at this very step
    const double post1 = s.t_post_ == at ? s.post1_sum_ - 1.0 : s.post1_sum_ * cp.post1_( at - s.t_post_ );
    weight = std::max( weight - cp.nu_pre_ * post1, 0.0 );
    s.pre_sum_ = s.pre_sum_ * cp.pre_( t_spike - s.t_lastspike_ ) + 1.0;
  }
  else
  {
    // the latest postsynaptic spike that reached the synapse strictly before this one (its
    // post1 depresses): without a spike since the synapse last read, the cell's latest
    long latest = record.last();
    if ( latest > s.t_read_ - delay )
    {
      // postsynaptic spikes reached the synapse since it last read: potentiate
      size_t end = dc_potentiate( s, weight, record, delay, t_spike, cp );
      auto& spikes = record.spikes();
      if ( end > 0 and spikes[ end - 1 ].step == at )
      {
        --end;
      }
      latest = end > 0 ? spikes[ end - 1 ].step : PostSpikeRecord::NONE;
    }
    if ( latest != PostSpikeRecord::NONE )
    {
      weight = std::max( weight - cp.nu_pre_ * cp.post1_( at - latest ), 0.0 );
    }
  }
  s.t_read_ = t_spike;
  s.t_lastspike_ = t_spike;
}

/* Apply the potentiation of the postsynaptic spikes that reached the synapse by step
 * ``until`` (a time by which all presynaptic spikes up to it have been learned). */
inline void
dc_flush( DCTraces& s, double& weight, PostSpikeRecord& record, long delay, long until, const DCRuleParameters& cp )
{
  if ( until > s.t_read_ )
  {
    const long t_post_read = s.t_post_;
    if ( record.last() > s.t_read_ - delay )
    {
      dc_potentiate( s, weight, record, delay, until, cp );
    }
    s.t_read_ = until;
    if ( cp.all_to_all_ and cp.potentiate_on_read_ and s.t_post_ != t_post_read )
    {
      // the potentiation of the postsynaptic spikes just read, clipped as at a presynaptic spike
      weight = std::min( weight + s.potentiation_, cp.Wmax_ );
      s.potentiation_ = 0.0;
    }
  }
}

} // namespace spiking_mnist

#endif
