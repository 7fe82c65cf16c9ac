/*
 * stdp_trace_synapse: the presynaptic-trace STDP rules Diehl & Cook (2015) compared with
 * their triplet rule, for NEST.
 *
 * The rules (their Methods; constants in spiking_mnist/models/diehl_cook.toml, forms and
 * sources in docs/learning-rules.md): each synapse has a presynaptic trace x_pre and a
 * postsynaptic trace x_post, each decaying exponentially (tau_pre, tau_post) and each
 * *increased by 1* at a spike of its side (traces summed over all spikes). Both start at 0.
 *   at a postsynaptic spike, power-law weight dependence (exponential false):
 *       w = clip(w + nu_post * (x_pre - x_tar) * (Wmax - w)^mu, 0, Wmax)
 *   at a postsynaptic spike, exponential weight dependence (exponential true):
 *       w = clip(w + nu_post * (x_pre * exp(-beta w) - x_tar * exp(-beta (Wmax - w))), 0, Wmax)
 *   at a presynaptic spike (pre-and-post rule; nu_pre = 0 for the others):
 *       w = clip(w - nu_pre * x_post * w^mu, 0, Wmax)
 * A weight above Wmax (normalisation can scale one there) has no room to grow: (Wmax - w) is
 * taken as 0 in the power law, and the clip brings the weight to Wmax at its next change.
 * After each change the spike's own trace is increased by 1 (a trace is read before its spike adds to
 * it). With nu_pre = 0 this is D&C's rule with power-law weight dependence, or (exponential)
 * the one with exponential weight dependence; with nu_pre > 0 and the power law, their
 * pre-and-post rule. The exponential dependence takes no depression (nu_pre must be 0).
 *
 * The rules' arithmetic is in trace_rule.h, shared with DenseInput (dense_input.h).
 *
 * How it runs in NEST: as stdp_dc_synapse (see stdp_dc_synapse.h). A NEST synapse is only
 * called at its presynaptic spikes, so the potentiation of each postsynaptic spike is applied
 * at the synapse's next presynaptic spike, or when KernelConnections flushes it before it
 * reads, writes or normalises weights, one spike after the other in time order, each with
 * the presynaptic trace decayed to that spike; the synapse keeps its own x_post, updated at
 * each postsynaptic spike it applies. The postsynaptic spikes come from the target's
 * PostSpikeRecord, so the target must be an iaf_cond_exp_fixed_step.
 *
 * Time: the delay is dendritic (a postsynaptic spike at s reaches the synapse at s + delay),
 * and a postsynaptic spike reaching the synapse in the same step as a presynaptic spike is
 * applied first, with x_pre from before that spike, and does not enter its depression (x_post
 * from before it): each sees the other's trace from before, as NEST's STDP synapses do.
 *
 * What differs from a clock-driven implementation (D&C's Brian code): the weight a
 * presynaptic spike transmits, and the one NEST's status dictionary shows, leave out the
 * potentiation not yet applied; delays are dendritic where Brian 1 applies them before the
 * synapse.
 *
 * Parameters, common to all synapses of a model (set them with SetDefaults or CopyModel):
 * tau_pre, tau_post (ms), nu_pre, nu_post (weight units^(1 - mu) for power_law; nu_post in
 * weight units for exponential), x_tar, mu (>= 0), beta (1 / weight units), Wmax (weight
 * units), exponential (the weight dependence: true exponential, false power law). Per synapse:
 * weight.
 */
#ifndef STDP_TRACE_SYNAPSE_H
#define STDP_TRACE_SYNAPSE_H

#include <string>

#include "common_synapse_properties.h"
#include "connection.h"
#include "connector_model.h"
#include "event.h"
#include "nest_time.h"

#include "iaf_cond_exp_fixed_step.h"
#include "trace_rule.h"

namespace spiking_mnist
{

class STDPTraceCommonProperties : public nest::CommonSynapseProperties, public TraceRuleParameters
{
public:
  STDPTraceCommonProperties();

  void get_status( Dictionary& d ) const;
  void set_status( const Dictionary& d, nest::ConnectorModel& cm );
  void calibrate( const nest::TimeConverter& tc );
};

template < typename targetidentifierT >
class stdp_trace_synapse : public nest::Connection< targetidentifierT >
{
public:
  typedef STDPTraceCommonProperties CommonPropertiesType;
  typedef nest::Connection< targetidentifierT > ConnectionBase;

  static constexpr nest::ConnectionModelProperties properties = nest::ConnectionModelProperties::HAS_DELAY
    | nest::ConnectionModelProperties::IS_PRIMARY | nest::ConnectionModelProperties::SUPPORTS_LBL;

  stdp_trace_synapse() = default;
  stdp_trace_synapse( const stdp_trace_synapse& ) = default;
  stdp_trace_synapse& operator=( const stdp_trace_synapse& ) = default;

  using ConnectionBase::get_delay_steps;
  using ConnectionBase::get_rport;
  using ConnectionBase::get_target;

  void get_status( Dictionary& d ) const;
  void set_status( const Dictionary& d, nest::ConnectorModel& cm );

  bool send( nest::Event& e, size_t tid, const STDPTraceCommonProperties& cp );

  /* Apply the potentiation of the postsynaptic spikes that reached the synapse by step
   * ``until`` (a time by which all presynaptic spikes up to it have been sent). */
  void
  flush( size_t tid, long until, const STDPTraceCommonProperties& cp )
  {
    trace_flush( state_,
      weight_,
      static_cast< iaf_cond_exp_fixed_step* >( get_target( tid ) )->post_spike_record(),
      get_delay_steps(),
      until,
      cp );
  }

  //! the weight, for reading and writing in place (call flush first)
  double&
  weight_in_place()
  {
    return weight_;
  }

  void
  set_weight( double w )
  {
    weight_ = w;
  }

  class ConnTestDummyNode : public nest::ConnTestDummyNodeBase
  {
  public:
    using nest::ConnTestDummyNodeBase::handles_test_event;
    size_t
    handles_test_event( nest::SpikeEvent&, size_t ) override
    {
      return nest::invalid_port;
    }
  };

  void
  check_connection( nest::Node& s, nest::Node& t, size_t receptor_type, const CommonPropertiesType& )
  {
    ConnTestDummyNode dummy_target;
    ConnectionBase::check_connection_( dummy_target, s, t, receptor_type );
    auto* target = dynamic_cast< iaf_cond_exp_fixed_step* >( &t );
    if ( target == nullptr )
    {
      throw nest::IllegalConnection( "stdp_trace_synapse connects only onto iaf_cond_exp_fixed_step (it "
                                     "keeps the postsynaptic spikes the rule needs)." );
    }
    target->post_spike_record().register_connection( state_.t_read_ - get_delay_steps() );
  }

private:
  TraceState state_;
  double weight_ = 1.0;
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties stdp_trace_synapse< targetidentifierT >::properties;

template < typename targetidentifierT >
inline bool
stdp_trace_synapse< targetidentifierT >::send( nest::Event& e, size_t tid, const STDPTraceCommonProperties& cp )
{
  auto* target = static_cast< iaf_cond_exp_fixed_step* >( get_target( tid ) );
  trace_learn( state_, weight_, target->post_spike_record(), get_delay_steps(), e.get_stamp().get_steps(), cp );
  e.set_receiver( *target );
  e.set_weight( weight_ );
  e.set_delay_steps( get_delay_steps() );
  e.set_rport( get_rport() );
  e();
  return true;
}

template < typename targetidentifierT >
void
stdp_trace_synapse< targetidentifierT >::get_status( Dictionary& d ) const
{
  ConnectionBase::get_status( d );
  d[ nest::names::weight ] = weight_;
  d[ nest::names::size_of ] = static_cast< long >( sizeof( *this ) );
}

template < typename targetidentifierT >
void
stdp_trace_synapse< targetidentifierT >::set_status( const Dictionary& d, nest::ConnectorModel& cm )
{
  ConnectionBase::set_status( d, cm );
  double w = weight_;
  d.update_value( nest::names::weight, w );
  if ( w < 0 )
  {
    throw nest::BadProperty( "The weight of stdp_trace_synapse cannot be negative." );
  }
  weight_ = w;
}

void register_stdp_trace_synapse( const std::string& name );

} // namespace spiking_mnist

#endif
