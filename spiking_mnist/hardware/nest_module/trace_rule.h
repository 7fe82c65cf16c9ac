/*
 * D&C's presynaptic-trace STDP rules for one synapse, as stdp_trace_synapse runs them (its
 * header states the rules and their timing): the rules' parameters, one synapse's state, and
 * what happens at a presynaptic spike and when the weight is read. Shared by
 * stdp_trace_synapse (one NEST connection per synapse) and DenseInput (the input synapses of
 * a layer kept beside its cells), so that the two learn the same weights.
 *
 * Time is in NEST's steps; ``delay`` is the synapse's (dendritic) delay in steps; the
 * postsynaptic spikes come from the target's PostSpikeRecord.
 */
#ifndef TRACE_RULE_H
#define TRACE_RULE_H

#include <algorithm>
#include <cmath>

#include "post_spike_record.h"
#include "step_decay.h"

namespace spiking_mnist
{

//! the rules' parameters, common to the synapses of a model or layer (defaults: the power law)
struct TraceRuleParameters
{
  double tau_pre_ = 20.0;
  double tau_post_ = 20.0;
  double nu_pre_ = 0.0;
  double nu_post_ = 0.01;
  double x_tar_ = 0.4;
  double mu_ = 0.2;
  double beta_ = 1.0;
  double Wmax_ = 1.0;
  bool exponential_ = false; //!< exponential weight dependence (else power law)
  StepDecay pre_;            //!< x_pre after a number of steps
  StepDecay post_;           //!< x_post after a number of steps

  //! the decay tables, for the time step h (ms)
  void
  tabulate( double h )
  {
    pre_.set( tau_pre_, h );
    post_.set( tau_post_, h );
  }

  //! the weight after the potentiation of one postsynaptic spike seeing presynaptic trace x_pre
  double
  potentiated( double w, double x_pre ) const
  {
    const double dw = exponential_
      ? nu_post_ * ( x_pre * std::exp( -beta_ * w ) - x_tar_ * std::exp( -beta_ * ( Wmax_ - w ) ) )
      : nu_post_ * ( x_pre - x_tar_ ) * std::pow( std::max( Wmax_ - w, 0.0 ), mu_ );
    return std::min( std::max( w + dw, 0.0 ), Wmax_ );
  }

  //! the weight after the depression of one presynaptic spike seeing postsynaptic trace x_post
  double
  depressed( double w, double x_post ) const
  {
    return std::min( std::max( w - nu_pre_ * x_post * std::pow( w, mu_ ), 0.0 ), Wmax_ );
  }
};

//! what the rules keep for one synapse besides its weight
struct TraceState
{
  long t_lastspike_ = PostSpikeRecord::NONE; //!< last presynaptic spike (steps)
  long t_lastpost_ = PostSpikeRecord::NONE;  //!< last postsynaptic spike applied (steps, at the cell)
  long t_read_ = 0;                          //!< postsynaptic spikes read up to here (steps, at the synapse)
  double x_pre_ = 0.0;                       //!< x_pre just after the last presynaptic spike
  double x_post_ = 0.0;                      //!< x_post just after the last postsynaptic spike applied
};

/* Potentiation by the postsynaptic spikes not yet read whose step (at the cell) is at most
 * ``last``, in time order; each also adds 1 to x_post. */
inline void
trace_potentiate( TraceState& s, double& weight, PostSpikeRecord& record, long delay, long last, const TraceRuleParameters& cp )
{
  auto& spikes = record.spikes();
  size_t begin, end;
  record.between( s.t_read_ - delay, last, begin, end );
  for ( size_t i = begin; i < end; ++i )
  {
    PostSpikeRecord::Spike& spike = spikes[ i ];
    ++spike.reads;
    // x_pre decayed to the spike's arrival (0 before the first presynaptic spike)
    weight = cp.potentiated( weight, s.x_pre_ * cp.pre_( spike.step + delay - s.t_lastspike_ ) );
    s.x_post_ = s.x_post_ * cp.post_( spike.step - s.t_lastpost_ ) + 1.0;
    s.t_lastpost_ = spike.step;
  }
  s.t_read_ = last + delay;
}

/* The learning at a presynaptic spike at ``t_spike``; afterwards ``weight`` is the one the
 * spike transmits. */
inline void
trace_learn( TraceState& s, double& weight, PostSpikeRecord& record, long delay, long t_spike, const TraceRuleParameters& cp )
{
  const long at = t_spike - delay; // the time at the cell
  const bool unread = record.last() > s.t_read_ - delay;
  if ( unread )
  {
    // postsynaptic spikes that reached the synapse before this spike
    trace_potentiate( s, weight, record, delay, at - 1, cp );
  }
  // x_post before any postsynaptic spike reaching the synapse in this step
  const double x_post = s.x_post_ * cp.post_( at - s.t_lastpost_ );
  if ( unread )
  {
    trace_potentiate( s, weight, record, delay, at, cp ); // one reaching it in this step: applied first
  }
  s.t_read_ = t_spike;
  if ( cp.nu_pre_ > 0.0 )
  {
    weight = cp.depressed( weight, x_post );
  }
  s.x_pre_ = s.x_pre_ * cp.pre_( t_spike - s.t_lastspike_ ) + 1.0;
  s.t_lastspike_ = t_spike;
}

/* Apply the potentiation of the postsynaptic spikes that reached the synapse by step
 * ``until`` (a time by which all presynaptic spikes up to it have been learned). */
inline void
trace_flush( TraceState& s, double& weight, PostSpikeRecord& record, long delay, long until, const TraceRuleParameters& cp )
{
  if ( until > s.t_read_ )
  {
    if ( record.last() > s.t_read_ - delay )
    {
      trace_potentiate( s, weight, record, delay, until - delay, cp );
    }
    s.t_read_ = until;
  }
}

} // namespace spiking_mnist

#endif
