/*
 * DenseInput: the input synapses of a layer of iaf_cond_exp_fixed_step cells, kept beside
 * the cells as a matrix instead of as one NEST connection each.
 *
 * In D&C's network every input drives every excitatory cell through its own plastic
 * synapse; at N=400 each shown digit sends ~0.9 million spikes through NEST's connections,
 * which cost most of a run. Here the layer holds, for each input i and column (cell) c, the
 * synapse's delay, weight and, when it learns, the traces of one of D&C's STDP rules
 * (learning as stdp_dc_synapse does, dc_rule.h, or as stdp_trace_synapse does,
 * trace_rule.h), each stored input-major so that the cells
 * reading one input at one step read neighbouring memory; and it holds the input spike
 * trains of the next run (each spike's time stamp in steps and input). At each step each
 * attached cell asks deliver() for the inputs whose spikes have that time stamp: it
 * learns at each of them as the synapse would when NEST delivers the spike, and adds its
 * weight to its own excitatory ring buffer ``delay`` steps on.
 *
 * A run so is the run with the input spike sources connected by stdp_dc_synapse,
 * stdp_trace_synapse or static_synapse with the same weights and delays: the rule sees the
 * presynaptic spike at its time stamp and the postsynaptic spikes ``delay`` later, and
 * the conductance arrives at the same step. (Within a step the conductances of several
 * inputs are summed in input order; NEST sums them in the order it delivers them, which
 * with more than one thread may differ in the last bit.)
 *
 * Threads: each cell writes only its own column, each synapse's traces on a cache line of
 * their own; normalisation runs on NEST's threads, a block of columns each.
 */
#ifndef DENSE_INPUT_H
#define DENSE_INPUT_H

#include <cstdint>
#include <vector>

#include "dc_rule.h"
#include "trace_rule.h"
#include "post_spike_record.h"
#include "synaptic_ring.h"

namespace spiking_mnist
{

class iaf_cond_exp_fixed_step;

class DenseInput
{
public:
  //! learning by D&C's triplet rule (stdp_dc_synapse), or static if not ``plastic``
  DenseInput( long n_inputs, long n_columns, bool plastic, const DCRuleParameters& rule );
  //! learning by one of D&C's presynaptic-trace rules (stdp_trace_synapse)
  DenseInput( long n_inputs, long n_columns, const TraceRuleParameters& rule );

  long
  n_inputs() const
  {
    return n_inputs_;
  }
  long
  n_columns() const
  {
    return n_columns_;
  }

  /* The spikes of the next runs, ``n`` of them, by time stamp (steps, ascending); each
   * one's input. Returns false (nothing changed) if they are not in order or an input is
   * out of range. */
  bool set_spikes( long n, const long* stamps, const long* inputs );

  //! column ``column`` is ``cell``; its record counts this layer's synapses among its readers
  void attach( long column, iaf_cond_exp_fixed_step* cell );

  /* At the step whose spikes have time stamp ``stamp`` (the step stamp - 1): learn at the
   * spikes of that stamp and send their weights into ``ring``, for step stamp - 1 + delay. */
  void
  deliver( long column, long stamp, SynapticRing& ring, PostSpikeRecord& record )
  {
    const long k = stamp - first_stamp_;
    if ( k < 0 or k + 1 >= static_cast< long >( offsets_.size() ) )
    {
      return;
    }
    for ( long s = offsets_[ k ]; s < offsets_[ k + 1 ]; ++s )
    {
      const size_t at = static_cast< size_t >( inputs_[ s ] ) * n_columns_ + column;
      const long delay = delay_[ at ];
      if ( learning_ == Learning::triplet )
      {
        dc_learn( traces_[ at ].rule, weight_[ at ], record, delay, stamp, rule_ );
      }
      else if ( learning_ == Learning::trace )
      {
        trace_learn( trace_states_[ at ].rule, weight_[ at ], record, delay, stamp, trace_rule_ );
      }
      ring.add_excitatory( stamp - 1 + delay, weight_[ at ] );
    }
  }

  /* Weights (n_inputs x n_columns, input-major) out of or into the layer; reading first
   * applies potentiation that is due (the nearest-spike and trace rules), up to step
   * ``until``. */
  void get_weights( double* out, long until );
  void set_weights( const double* in );
  //! delays in steps, each in [1, max_steps]; false (nothing changed) otherwise
  bool set_delays( const long* steps, long max_steps );
  /* Scale each selected column (``selected`` null: all) to sum to ``column_sum``, summed
   * over the inputs in order; a column summing to 0 stays. */
  void normalise( const unsigned char* selected, double column_sum, long until );

private:
  void flush_( long until );


  enum class Learning
  {
    none,
    triplet,
    trace
  };

  DenseInput( long n_inputs, long n_columns, Learning learning );

  long n_inputs_;
  long n_columns_;
  Learning learning_;
  DCRuleParameters rule_;
  TraceRuleParameters trace_rule_;
  //! one synapse's traces on a cache line of their own: cells of two threads never share one
  template < typename State >
  struct alignas( 64 ) OnItsLine
  {
    State rule;
  };
  std::vector< OnItsLine< DCTraces > > traces_;          //!< triplet: per synapse
  std::vector< OnItsLine< TraceState > > trace_states_;  //!< trace: per synapse
  std::vector< double > weight_;        //!< per synapse, apart from the traces: normalisation reads only these
  std::vector< std::uint16_t > delay_;  //!< per synapse (steps)
  std::vector< iaf_cond_exp_fixed_step* > cells_;
  long first_stamp_ = 0;
  std::vector< long > offsets_; //!< spikes of stamp first_stamp_ + k: [offsets_[k], offsets_[k + 1])
  std::vector< long > inputs_;
};

} // namespace spiking_mnist

#endif
