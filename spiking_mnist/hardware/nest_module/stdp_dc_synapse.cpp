/*
 * stdp_dc_synapse: see stdp_dc_synapse.h.
 */
#include "stdp_dc_synapse.h"

#include "exceptions.h"
#include "nest_impl.h"

namespace spiking_mnist
{

// defaults: D&C's constants (weights in D&C's units)
STDPDCCommonProperties::STDPDCCommonProperties()
  : nest::CommonSynapseProperties()
  , DCRuleParameters()
{
  tabulate( nest::Time::get_resolution().get_ms() );
}

void
STDPDCCommonProperties::get_status( Dictionary& d ) const
{
  nest::CommonSynapseProperties::get_status( d );
  d[ "tau_pre" ] = tau_pre_;
  d[ "tau_post1" ] = tau_post1_;
  d[ "tau_post2" ] = tau_post2_;
  d[ "nu_pre" ] = nu_pre_;
  d[ "nu_post" ] = nu_post_;
  d[ nest::names::Wmax ] = Wmax_;
  d[ "all_to_all" ] = all_to_all_;
  d[ "potentiate_on_read" ] = potentiate_on_read_;
}

void
STDPDCCommonProperties::set_status( const Dictionary& d, nest::ConnectorModel& cm )
{
  double tau_pre = tau_pre_, tau_post1 = tau_post1_, tau_post2 = tau_post2_;
  double nu_pre = nu_pre_, nu_post = nu_post_, Wmax = Wmax_;
  bool all_to_all = all_to_all_, potentiate_on_read = potentiate_on_read_;
  d.update_value( std::string( "tau_pre" ), tau_pre );
  d.update_value( std::string( "tau_post1" ), tau_post1 );
  d.update_value( std::string( "tau_post2" ), tau_post2 );
  d.update_value( std::string( "nu_pre" ), nu_pre );
  d.update_value( std::string( "nu_post" ), nu_post );
  d.update_value( nest::names::Wmax, Wmax );
  d.update_value( std::string( "all_to_all" ), all_to_all );
  d.update_value( std::string( "potentiate_on_read" ), potentiate_on_read );
  if ( not( tau_pre > 0 and tau_post1 > 0 and tau_post2 > 0 ) )
  {
    throw nest::BadProperty( "The time constants of stdp_dc_synapse must be strictly positive." );
  }
  if ( not( nu_pre >= 0 and nu_post >= 0 and Wmax >= 0 ) )
  {
    throw nest::BadProperty( "nu_pre, nu_post and Wmax of stdp_dc_synapse cannot be negative." );
  }
  nest::CommonSynapseProperties::set_status( d, cm );
  tau_pre_ = tau_pre;
  tau_post1_ = tau_post1;
  tau_post2_ = tau_post2;
  nu_pre_ = nu_pre;
  nu_post_ = nu_post;
  Wmax_ = Wmax;
  all_to_all_ = all_to_all;
  potentiate_on_read_ = potentiate_on_read;
  tabulate( nest::Time::get_resolution().get_ms() );
}

void
STDPDCCommonProperties::calibrate( const nest::TimeConverter& tc )
{
  nest::CommonSynapseProperties::calibrate( tc );
  tabulate( nest::Time::get_resolution().get_ms() );
}

void
register_stdp_dc_synapse( const std::string& name )
{
  nest::register_connection_model< stdp_dc_synapse >( name );
}

} // namespace spiking_mnist
