/*
 * iaf_cond_exp_fixed_step: see iaf_cond_exp_fixed_step.h.
 */
#include "iaf_cond_exp_fixed_step.h"

#include "dense_input.h"

#include <cmath>
#include <limits>

#include "dict_util.h"
#include "exceptions.h"
#include "kernel_manager.h"
#include "nest_impl.h"
#include "universal_data_logger_impl.h"

namespace nest
{
template <>
void
RecordablesMap< spiking_mnist::iaf_cond_exp_fixed_step >::create()
{
  insert_( names::V_m, &spiking_mnist::iaf_cond_exp_fixed_step::get_V_m );
  insert_( names::g_ex, &spiking_mnist::iaf_cond_exp_fixed_step::get_g_ex );
  insert_( names::g_in, &spiking_mnist::iaf_cond_exp_fixed_step::get_g_in );
  insert_( "theta", &spiking_mnist::iaf_cond_exp_fixed_step::get_theta );
}
}

namespace spiking_mnist
{

nest::RecordablesMap< iaf_cond_exp_fixed_step > iaf_cond_exp_fixed_step::recordablesMap_;

// defaults: iaf_cond_exp's, and no homeostasis
iaf_cond_exp_fixed_step::Parameters_::Parameters_()
  : V_th( -55.0 )
  , V_reset( -60.0 )
  , t_ref( 2.0 )
  , g_L( 16.6667 )
  , C_m( 250.0 )
  , E_ex( 0.0 )
  , E_in( -85.0 )
  , E_L( -70.0 )
  , tau_syn_ex( 0.2 )
  , tau_syn_in( 2.0 )
  , I_e( 0.0 )
  , theta_plus( 0.0 )
  , tau_theta( std::numeric_limits< double >::infinity() )
{
}

void
iaf_cond_exp_fixed_step::Parameters_::get( Dictionary& d ) const
{
  d[ nest::names::V_th ] = V_th;
  d[ nest::names::V_reset ] = V_reset;
  d[ nest::names::t_ref ] = t_ref;
  d[ nest::names::g_L ] = g_L;
  d[ nest::names::C_m ] = C_m;
  d[ nest::names::E_ex ] = E_ex;
  d[ nest::names::E_in ] = E_in;
  d[ nest::names::E_L ] = E_L;
  d[ nest::names::tau_syn_ex ] = tau_syn_ex;
  d[ nest::names::tau_syn_in ] = tau_syn_in;
  d[ nest::names::I_e ] = I_e;
  d[ "theta_plus" ] = theta_plus;
  d[ "tau_theta" ] = tau_theta;
}

void
iaf_cond_exp_fixed_step::Parameters_::set( const Dictionary& d, nest::Node* node )
{
  nest::update_value_param( d, nest::names::V_th, V_th, node );
  nest::update_value_param( d, nest::names::V_reset, V_reset, node );
  nest::update_value_param( d, nest::names::t_ref, t_ref, node );
  nest::update_value_param( d, nest::names::g_L, g_L, node );
  nest::update_value_param( d, nest::names::C_m, C_m, node );
  nest::update_value_param( d, nest::names::E_ex, E_ex, node );
  nest::update_value_param( d, nest::names::E_in, E_in, node );
  nest::update_value_param( d, nest::names::E_L, E_L, node );
  nest::update_value_param( d, nest::names::tau_syn_ex, tau_syn_ex, node );
  nest::update_value_param( d, nest::names::tau_syn_in, tau_syn_in, node );
  nest::update_value_param( d, nest::names::I_e, I_e, node );
  nest::update_value_param( d, std::string( "theta_plus" ), theta_plus, node );
  nest::update_value_param( d, std::string( "tau_theta" ), tau_theta, node );
  if ( C_m <= 0 or g_L <= 0 )
  {
    throw nest::BadProperty( "Capacitance and leak conductance must be strictly positive." );
  }
  if ( t_ref < 0 )
  {
    throw nest::BadProperty( "Refractory time cannot be negative." );
  }
  if ( tau_syn_ex <= 0 or tau_syn_in <= 0 or tau_theta <= 0 )
  {
    throw nest::BadProperty( "All time constants must be strictly positive." );
  }
}

iaf_cond_exp_fixed_step::State_::State_( const Parameters_& p )
  : V_m( p.E_L )
  , g_ex( 0.0 )
  , g_in( 0.0 )
  , theta( 0.0 )
  , refractory_steps( 0 )
{
}

void
iaf_cond_exp_fixed_step::State_::get( Dictionary& d ) const
{
  d[ nest::names::V_m ] = V_m;
  d[ nest::names::g_ex ] = g_ex;
  d[ nest::names::g_in ] = g_in;
  d[ "theta" ] = theta;
}

void
iaf_cond_exp_fixed_step::State_::set( const Dictionary& d, nest::Node* node )
{
  nest::update_value_param( d, nest::names::V_m, V_m, node );
  nest::update_value_param( d, nest::names::g_ex, g_ex, node );
  nest::update_value_param( d, nest::names::g_in, g_in, node );
  nest::update_value_param( d, std::string( "theta" ), theta, node );
  if ( g_ex < 0 or g_in < 0 )
  {
    throw nest::BadProperty( "Conductances cannot be negative." );
  }
}

iaf_cond_exp_fixed_step::Buffers_::Buffers_( iaf_cond_exp_fixed_step& n )
  : logger_( n )
  , I_stim( 0.0 )
{
}

iaf_cond_exp_fixed_step::Buffers_::Buffers_( const Buffers_&, iaf_cond_exp_fixed_step& n )
  : logger_( n )
  , I_stim( 0.0 )
{
}

iaf_cond_exp_fixed_step::iaf_cond_exp_fixed_step()
  : ArchivingNode()
  , P_()
  , S_( P_ )
  , B_( *this )
{
  recordablesMap_.create();
}

iaf_cond_exp_fixed_step::iaf_cond_exp_fixed_step( const iaf_cond_exp_fixed_step& n )
  : ArchivingNode( n )
  , P_( n.P_ )
  , S_( n.S_ )
  , B_( n.B_, *this )
{
}

void
iaf_cond_exp_fixed_step::get_status( Dictionary& d ) const
{
  P_.get( d );
  S_.get( d );
  ArchivingNode::get_status( d );
  d[ "post_spikes_kept" ] = static_cast< long >( post_spikes_.size() );
  d[ nest::names::recordables ] = recordablesMap_.get_list();
}

void
iaf_cond_exp_fixed_step::set_status( const Dictionary& d )
{
  Parameters_ ptmp = P_;
  ptmp.set( d, this );
  State_ stmp = S_;
  stmp.set( d, this );
  if ( ptmp.V_reset >= ptmp.V_th + stmp.theta )
  {
    throw nest::BadProperty( "Reset potential must be below the threshold V_th + theta." );
  }
  ArchivingNode::set_status( d );
  P_ = ptmp;
  S_ = stmp;
}

void
iaf_cond_exp_fixed_step::init_buffers_()
{
  B_.spikes_.clear(
    nest::kernel().connection_manager.get_min_delay() + nest::kernel().connection_manager.get_max_delay() );
  B_.currents_.clear();
  ArchivingNode::clear_history();
  post_spikes_.clear();
  B_.logger_.reset();
  B_.I_stim = 0.0;
}

void
iaf_cond_exp_fixed_step::pre_run_hook()
{
  B_.logger_.init();
  const double h = nest::Time::get_resolution().get_ms();
  V_.h = h;
  V_.decay_ex = std::exp( -h / P_.tau_syn_ex );
  V_.decay_in = std::exp( -h / P_.tau_syn_in );
  // the integral of exp(-t / tau) over [0, h], divided by h
  V_.mean_ex = -std::expm1( -h / P_.tau_syn_ex ) * P_.tau_syn_ex / h;
  V_.mean_in = -std::expm1( -h / P_.tau_syn_in ) * P_.tau_syn_in / h;
  V_.decay_theta = std::exp( -h / P_.tau_theta );
  V_.refractory_counts = nest::Time( nest::Time::ms( P_.t_ref ) ).get_steps();
  V_.keep_steps =
    nest::kernel().connection_manager.get_max_delay() + nest::kernel().connection_manager.get_min_delay();
}

void
iaf_cond_exp_fixed_step::update( nest::Time const& origin, const long from, const long to )
{
  for ( long lag = from; lag < to; ++lag )
  {
    if ( dense_input_ != nullptr )
    {
      // the input spikes of time stamp origin + lag + 1, which NEST would send at this step
      dense_input_->deliver( dense_column_, origin.get_steps() + lag + 1, B_.spikes_, post_spikes_ );
    }
    if ( S_.refractory_steps == 0 )
    {
      // V_m relaxes towards the equilibrium of the step's mean conductances
      const double g_ex = S_.g_ex * V_.mean_ex;
      const double g_in = S_.g_in * V_.mean_in;
      const double g_total = P_.g_L + g_ex + g_in;
      const double V_inf =
        ( P_.g_L * P_.E_L + g_ex * P_.E_ex + g_in * P_.E_in + P_.I_e + B_.I_stim ) / g_total;
      S_.V_m = V_inf + ( S_.V_m - V_inf ) * std::exp( -V_.h * g_total / P_.C_m );
    }
    double spike_exc, spike_inh;
    B_.spikes_.take( origin.get_steps() + lag, spike_exc, spike_inh );
    S_.g_ex = S_.g_ex * V_.decay_ex + spike_exc;
    S_.g_in = S_.g_in * V_.decay_in + spike_inh;
    // a conductance decayed below 1e-300 nS is 0: it changes no sum it enters (V_m,
    // g_total) and would otherwise decay through the subnormal numbers, on which
    // arithmetic is up to a hundred times slower (a long run slowed down 2.8 times)
    if ( S_.g_ex < 1e-300 )
    {
      S_.g_ex = 0.0;
    }
    if ( S_.g_in < 1e-300 )
    {
      S_.g_in = 0.0;
    }
    S_.theta *= V_.decay_theta;

    if ( S_.refractory_steps > 0 )
    {
      --S_.refractory_steps;
      S_.V_m = P_.V_reset;
    }
    else if ( S_.V_m >= P_.V_th + S_.theta )
    {
      S_.refractory_steps = V_.refractory_counts;
      S_.V_m = P_.V_reset;
      S_.theta += P_.theta_plus;
      set_spiketime( nest::Time::step( origin.get_steps() + lag + 1 ) );
      post_spikes_.spiked( origin.get_steps() + lag + 1, V_.keep_steps );
      nest::SpikeEvent se;
      nest::kernel().event_delivery_manager.send( *this, se, lag );
    }

    if ( receives_currents_ )
    {
      B_.I_stim = B_.currents_.get_value( lag );
    }
    B_.logger_.record_data( origin.get_steps() + lag );
  }
}

void
iaf_cond_exp_fixed_step::handle( nest::SpikeEvent& e )
{
  const nest::Time& origin = nest::kernel().simulation_manager.get_slice_origin();
  const long step = origin.get_steps() + e.get_rel_delivery_steps( origin );
  const double w = e.get_weight() * e.get_multiplicity();
  if ( w > 0.0 )
  {
    B_.spikes_.add_excitatory( step, w );
  }
  else
  {
    B_.spikes_.add_inhibitory( step, -w );
  }
}

void
iaf_cond_exp_fixed_step::handle( nest::CurrentEvent& e )
{
  B_.currents_.add_value( e.get_rel_delivery_steps( nest::kernel().simulation_manager.get_slice_origin() ),
    e.get_weight() * e.get_current() );
}

void
iaf_cond_exp_fixed_step::handle( nest::DataLoggingRequest& e )
{
  B_.logger_.handle( e );
}

} // namespace spiking_mnist
