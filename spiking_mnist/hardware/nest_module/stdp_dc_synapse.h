/*
 * stdp_dc_synapse: Diehl & Cook's (2015) STDP rule, exactly as their code states it, for NEST.
 *
 * The rule (their Brian code; a nearest-spike "minimal triplet" rule): each synapse has a
 * presynaptic trace pre, its target two postsynaptic traces post1 and post2, each decaying
 * exponentially (tau_pre, tau_post1, tau_post2) and each *reset to 1* at a spike of its side.
 *   at a presynaptic spike:   pre = 1;  w = clip(w - nu_pre * post1, 0, Wmax)
 *   at a postsynaptic spike:  w = clip(w + nu_post * pre * post2_before, 0, Wmax);
 *                             post1 = post2 = 1     (post2_before: post2 just before the reset)
 * All traces start at 0.
 * With all_to_all true, each trace is instead *increased by 1* at a spike of its side (summed
 * over all spikes, the synapse keeping the three sums), and the synapse runs exactly as NEST's
 * stdp_triplet_synapse with D&C's two terms (Aplus = Aminus_triplet = 0), for less per
 * event (it reads no spike history of the target's archive): the potentiation of the
 * postsynaptic spikes since the last presynaptic spike is added at the next presynaptic
 * spike, before its depression, and clipped to Wmax there (a weight read in between, and
 * normalised, leaves it out: flush() only works it out, so the record can drop the spikes,
 * and normalisation through a ColumnCache skips it).
 * With potentiate_on_read true as well, flush() adds it to the weight (so reads and
 * normalisation see it, as in D&C's code, where it is added at the postsynaptic spike).
 * A weight that normalisation scaled above Wmax stays there until a presynaptic spike that
 * follows a postsynaptic one. all_to_all is read when normalisation first walks the
 * connections: set it before connecting.
 *
 * How it runs in NEST. A NEST synapse is only called at its presynaptic spikes, so the
 * potentiation of each postsynaptic spike is applied at the synapse's next presynaptic spike
 * (or when the weight is read, see flush), one spike after the other in time order, each
 * with the presynaptic trace decayed to that spike and clipped to Wmax, then the depression
 * of the presynaptic spike: the weight after any sequence of events is the one the rule
 * gives (tests/test_stdp_dc_synapse.py compares it with an event-driven implementation).
 * The traces are not integrated: each is exp(-time since its side's last spike / tau).
 * The postsynaptic spikes come from the target's PostSpikeRecord (each spike's step and the
 * step of the one before it), so the target must be an iaf_cond_exp_fixed_step. The rule
 * itself is in dc_rule.h, shared with DenseInput (dense_input.h).
 *
 * Time. Spike times are NEST's time stamps in steps; the delay is dendritic, as in NEST's
 * stdp_triplet_synapse: a presynaptic spike of stamp t acts at the synapse at t, a
 * postsynaptic spike at s reaches it at s + delay. A postsynaptic spike reaching the synapse
 * in the same step as a presynaptic spike is applied first, with the presynaptic trace from
 * before that spike, and does not enter the depression (post1 before its reset): each of
 * the two sees the other's trace from before, as NEST's STDP synapses do.
 *
 * What differs from D&C's Brian code: (1) the weight transmitted with a presynaptic spike,
 * and the weight NEST's own status dictionary shows, leave out the potentiation of
 * postsynaptic spikes that reached the synapse since its last presynaptic spike, until its
 * next one or until flush() applies it (this project's KernelConnections flushes before it
 * reads, writes or normalises weights, so those see the rule's weight; with all_to_all they
 * leave it out, as NEST's stdp_triplet_synapse does); (2) delays: D&C's
 * Brian 1 code applies the delay before the synapse (a presynaptic spike at t meets the
 * postsynaptic traces at t + delay), here it is after it (the postsynaptic spike meets the
 * presynaptic trace delay later), so a pre-post pair at the synapse is 2 * delay apart in
 * one when it is simultaneous in the other, as with stdp_triplet_synapse.
 *
 * Parameters, common to all synapses of a model (set them with SetDefaults or CopyModel):
 * tau_pre, tau_post1, tau_post2 (ms), nu_pre, nu_post, Wmax (weight units; Wmax >= 0),
 * all_to_all (bool: traces summed rather than reset; default false), potentiate_on_read
 * (bool: with all_to_all, flush() applies the potentiation due; default false).
 * Per synapse: weight.
 */
#ifndef STDP_DC_SYNAPSE_H
#define STDP_DC_SYNAPSE_H

#include "common_synapse_properties.h"
#include "connection.h"
#include "connector_model.h"
#include "event.h"
#include "nest_time.h"

#include "dc_rule.h"
#include "iaf_cond_exp_fixed_step.h"

namespace spiking_mnist
{

class STDPDCCommonProperties : public nest::CommonSynapseProperties, public DCRuleParameters
{
public:
  STDPDCCommonProperties();

  void get_status( Dictionary& d ) const;
  void set_status( const Dictionary& d, nest::ConnectorModel& cm );
  void calibrate( const nest::TimeConverter& tc );
};

template < typename targetidentifierT >
class stdp_dc_synapse : public nest::Connection< targetidentifierT >
{
public:
  typedef STDPDCCommonProperties CommonPropertiesType;
  typedef nest::Connection< targetidentifierT > ConnectionBase;

  static constexpr nest::ConnectionModelProperties properties = nest::ConnectionModelProperties::HAS_DELAY
    | nest::ConnectionModelProperties::IS_PRIMARY | nest::ConnectionModelProperties::SUPPORTS_LBL;

  stdp_dc_synapse() = default;
  stdp_dc_synapse( const stdp_dc_synapse& ) = default;
  stdp_dc_synapse& operator=( const stdp_dc_synapse& ) = default;

  using ConnectionBase::get_delay_steps;
  using ConnectionBase::get_rport;
  using ConnectionBase::get_target;

  void get_status( Dictionary& d ) const;
  void set_status( const Dictionary& d, nest::ConnectorModel& cm );

  bool
  send( nest::Event& e, size_t tid, const STDPDCCommonProperties& cp )
  {
    auto* target = static_cast< iaf_cond_exp_fixed_step* >( get_target( tid ) );
    dc_learn( state_, state_.weight_, target->post_spike_record(), get_delay_steps(), e.get_stamp().get_steps(), cp );
    e.set_receiver( *target );
    e.set_weight( state_.weight_ );
    e.set_delay_steps( get_delay_steps() );
    e.set_rport( get_rport() );
    e();
    return true;
  }

  /* Apply the potentiation of the postsynaptic spikes that reached the synapse by step
   * ``until`` (a time by which all presynaptic spikes up to it have been sent). */
  void
  flush( size_t tid, long until, const STDPDCCommonProperties& cp )
  {
    dc_flush( state_,
      state_.weight_,
      static_cast< iaf_cond_exp_fixed_step* >( get_target( tid ) )->post_spike_record(),
      get_delay_steps(),
      until,
      cp );
  }

  //! the weight, for reading and writing in place (call flush first)
  double&
  weight_in_place()
  {
    return state_.weight_;
  }

  void
  set_weight( double w )
  {
    state_.weight_ = w;
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
      throw nest::IllegalConnection( "stdp_dc_synapse connects only onto iaf_cond_exp_fixed_step (it "
                                     "keeps the postsynaptic spikes the rule needs)." );
    }
    target->post_spike_record().register_connection( state_.t_read_ - get_delay_steps() );
  }

private:
  DCSynapseState state_;
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties stdp_dc_synapse< targetidentifierT >::properties;

template < typename targetidentifierT >
void
stdp_dc_synapse< targetidentifierT >::get_status( Dictionary& d ) const
{
  ConnectionBase::get_status( d );
  d[ nest::names::weight ] = state_.weight_;
  d[ nest::names::size_of ] = static_cast< long >( sizeof( *this ) );
}

template < typename targetidentifierT >
void
stdp_dc_synapse< targetidentifierT >::set_status( const Dictionary& d, nest::ConnectorModel& cm )
{
  ConnectionBase::set_status( d, cm );
  double w = state_.weight_;
  d.update_value( nest::names::weight, w );
  if ( w < 0 )
  {
    throw nest::BadProperty( "The weight of stdp_dc_synapse cannot be negative." );
  }
  state_.weight_ = w;
}

void register_stdp_dc_synapse( const std::string& name );

} // namespace spiking_mnist

#endif
