/*
 * stdp_trace_synapse: see stdp_trace_synapse.h.
 */
#include "stdp_trace_synapse.h"

#include "exceptions.h"
#include "nest_impl.h"

namespace spiking_mnist
{

// defaults: D&C's power-law rule (weights in D&C's units; TraceRuleParameters)
STDPTraceCommonProperties::STDPTraceCommonProperties()
  : nest::CommonSynapseProperties()
  , TraceRuleParameters()
{
  tabulate( nest::Time::get_resolution().get_ms() );
}

void
STDPTraceCommonProperties::get_status( Dictionary& d ) const
{
  nest::CommonSynapseProperties::get_status( d );
  d[ "tau_pre" ] = tau_pre_;
  d[ "tau_post" ] = tau_post_;
  d[ "nu_pre" ] = nu_pre_;
  d[ "nu_post" ] = nu_post_;
  d[ "x_tar" ] = x_tar_;
  d[ "mu" ] = mu_;
  d[ "beta" ] = beta_;
  d[ nest::names::Wmax ] = Wmax_;
  d[ "exponential" ] = exponential_;
}

void
STDPTraceCommonProperties::set_status( const Dictionary& d, nest::ConnectorModel& cm )
{
  double tau_pre = tau_pre_, tau_post = tau_post_, nu_pre = nu_pre_, nu_post = nu_post_;
  double x_tar = x_tar_, mu = mu_, beta = beta_, Wmax = Wmax_;
  bool exponential = exponential_;
  d.update_value( std::string( "tau_pre" ), tau_pre );
  d.update_value( std::string( "tau_post" ), tau_post );
  d.update_value( std::string( "nu_pre" ), nu_pre );
  d.update_value( std::string( "nu_post" ), nu_post );
  d.update_value( std::string( "x_tar" ), x_tar );
  d.update_value( std::string( "mu" ), mu );
  d.update_value( std::string( "beta" ), beta );
  d.update_value( nest::names::Wmax, Wmax );
  d.update_value( std::string( "exponential" ), exponential );
  if ( not( tau_pre > 0 and tau_post > 0 ) )
  {
    throw nest::BadProperty( "The time constants of stdp_trace_synapse must be strictly positive." );
  }
  if ( not( nu_pre >= 0 and nu_post >= 0 and x_tar >= 0 and mu >= 0 and beta >= 0 and Wmax >= 0 ) )
  {
    throw nest::BadProperty( "nu_pre, nu_post, x_tar, mu, beta and Wmax of stdp_trace_synapse cannot be negative." );
  }
  if ( exponential and nu_pre > 0 )
  {
    throw nest::BadProperty( "stdp_trace_synapse has no depression with the exponential weight dependence: "
                             "set nu_pre to 0." );
  }
  nest::CommonSynapseProperties::set_status( d, cm );
  tau_pre_ = tau_pre;
  tau_post_ = tau_post;
  nu_pre_ = nu_pre;
  nu_post_ = nu_post;
  x_tar_ = x_tar;
  mu_ = mu;
  beta_ = beta;
  Wmax_ = Wmax;
  exponential_ = exponential;
  tabulate( nest::Time::get_resolution().get_ms() );
}

void
STDPTraceCommonProperties::calibrate( const nest::TimeConverter& tc )
{
  nest::CommonSynapseProperties::calibrate( tc );
  tabulate( nest::Time::get_resolution().get_ms() );
}

void
register_stdp_trace_synapse( const std::string& name )
{
  nest::register_connection_model< stdp_trace_synapse >( name );
}

} // namespace spiking_mnist
