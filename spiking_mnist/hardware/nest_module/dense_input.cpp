/*
 * DenseInput: see dense_input.h. Reached from Python through ctypes (the functions at the
 * end, used by spiking_mnist.hardware.nest_extension.DenseInput).
 */
#include "dense_input.h"

#include <algorithm>
#include <exception>

#include "kernel_manager.h"

#include "iaf_cond_exp_fixed_step.h"

namespace spiking_mnist
{

DenseInput::DenseInput( long n_inputs, long n_columns, Learning learning )
  : n_inputs_( n_inputs )
  , n_columns_( n_columns )
  , learning_( learning )
  , weight_( n_inputs * n_columns, 0.0 )
  , delay_( n_inputs * n_columns, 1 )
  , cells_( n_columns, nullptr )
{
  offsets_.assign( 1, 0 );
}

DenseInput::DenseInput( long n_inputs, long n_columns, bool plastic, const DCRuleParameters& rule )
  : DenseInput( n_inputs, n_columns, plastic ? Learning::triplet : Learning::none )
{
  rule_ = rule;
  if ( plastic )
  {
    traces_.resize( n_inputs * n_columns );
  }
}

DenseInput::DenseInput( long n_inputs, long n_columns, const TraceRuleParameters& rule )
  : DenseInput( n_inputs, n_columns, Learning::trace )
{
  trace_rule_ = rule;
  trace_states_.resize( n_inputs * n_columns );
}

bool
DenseInput::set_spikes( long n, const long* stamps, const long* inputs )
{
  for ( long s = 0; s < n; ++s )
  {
    if ( inputs[ s ] < 0 or inputs[ s ] >= n_inputs_ or ( s > 0 and stamps[ s ] < stamps[ s - 1 ] ) )
    {
      return false;
    }
  }
  inputs_.assign( inputs, inputs + n );
  first_stamp_ = n > 0 ? stamps[ 0 ] : 0;
  const long span = n > 0 ? stamps[ n - 1 ] - first_stamp_ + 1 : 0;
  offsets_.assign( span + 1, 0 );
  for ( long s = 0; s < n; ++s )
  {
    ++offsets_[ stamps[ s ] - first_stamp_ + 1 ];
  }
  for ( long k = 0; k < span; ++k )
  {
    offsets_[ k + 1 ] += offsets_[ k ];
  }
  return true;
}

void
DenseInput::attach( long column, iaf_cond_exp_fixed_step* cell )
{
  cells_[ column ] = cell;
  if ( learning_ != Learning::none )
  {
    cell->post_spike_record().register_connections( n_inputs_ );
  }
}

void
DenseInput::flush_( long until )
{
  if ( learning_ == Learning::none
    or ( learning_ == Learning::triplet and rule_.all_to_all_ and not rule_.potentiate_on_read_ ) )
  {
    return; // summed triplet traces: the weight leaves out due potentiation until the next spike
  }
  for ( long i = 0; i < n_inputs_; ++i )
  {
    for ( long c = 0; c < n_columns_; ++c )
    {
      const size_t at = i * n_columns_ + c;
      PostSpikeRecord& record = cells_[ c ]->post_spike_record();
      if ( learning_ == Learning::triplet )
      {
        dc_flush( traces_[ at ].rule, weight_[ at ], record, delay_[ at ], until, rule_ );
      }
      else
      {
        trace_flush( trace_states_[ at ].rule, weight_[ at ], record, delay_[ at ], until, trace_rule_ );
      }
    }
  }
}

void
DenseInput::get_weights( double* out, long until )
{
  flush_( until );
  for ( size_t at = 0; at < delay_.size(); ++at )
  {
    out[ at ] = weight_[ at ];
  }
}

void
DenseInput::set_weights( const double* in )
{
  for ( size_t at = 0; at < delay_.size(); ++at )
  {
    weight_[ at ] = in[ at ];
  }
}

bool
DenseInput::set_delays( const long* steps, long max_steps )
{
  for ( size_t at = 0; at < delay_.size(); ++at )
  {
    if ( steps[ at ] < 1 or steps[ at ] > max_steps or steps[ at ] > 65535 )
    {
      return false;
    }
  }
  std::copy( steps, steps + delay_.size(), delay_.begin() );
  return true;
}

void
DenseInput::normalise( const unsigned char* selected, double column_sum, long until )
{
  flush_( until );
  constexpr long block = 16; // columns per task
  const long blocks = ( n_columns_ + block - 1 ) / block;
#pragma omp parallel for num_threads( nest::kernel().vp_manager.get_num_threads() ) schedule( static )
  for ( long b = 0; b < blocks; ++b )
  {
    const long first = b * block, last = std::min( first + block, n_columns_ );
    double factor[ block ] = {};
    for ( long i = 0; i < n_inputs_; ++i )
    {
      for ( long c = first; c < last; ++c )
      {
        factor[ c - first ] += weight_[ i * n_columns_ + c ];
      }
    }
    for ( long c = first; c < last; ++c )
    {
      double& f = factor[ c - first ];
      f = ( ( selected == nullptr or selected[ c ] ) and f > 0 ) ? column_sum / f : 1.0;
    }
    for ( long i = 0; i < n_inputs_; ++i )
    {
      for ( long c = first; c < last; ++c )
      {
        weight_[ i * n_columns_ + c ] *= factor[ c - first ];
      }
    }
  }
}

} // namespace spiking_mnist

namespace
{
long
now_steps()
{
  return nest::kernel().simulation_manager.get_time().get_steps();
}
} // namespace

/* A layer of ``n_inputs`` x ``n_columns`` input synapses (see dense_input.h): plastic (D&C's
 * rule with these parameters, in the units of the weights) or static. Free it with
 * spiking_mnist_dense_free once NEST no longer runs its cells. */
extern "C" void*
spiking_mnist_dense_new( long n_inputs,
  long n_columns,
  int plastic,
  double tau_pre,
  double tau_post1,
  double tau_post2,
  double nu_pre,
  double nu_post,
  double Wmax,
  int all_to_all,
  int potentiate_on_read )
{
  spiking_mnist::DCRuleParameters rule;
  rule.tau_pre_ = tau_pre;
  rule.tau_post1_ = tau_post1;
  rule.tau_post2_ = tau_post2;
  rule.nu_pre_ = nu_pre;
  rule.nu_post_ = nu_post;
  rule.Wmax_ = Wmax;
  rule.all_to_all_ = all_to_all != 0;
  rule.potentiate_on_read_ = potentiate_on_read != 0;
  rule.tabulate( nest::Time::get_resolution().get_ms() );
  return new spiking_mnist::DenseInput( n_inputs, n_columns, plastic != 0, rule );
}

/* A layer of ``n_inputs`` x ``n_columns`` input synapses learning by one of D&C's
 * presynaptic-trace rules (stdp_trace_synapse's parameters, in the units of the weights). */
extern "C" void*
spiking_mnist_dense_new_trace( long n_inputs,
  long n_columns,
  double tau_pre,
  double tau_post,
  double nu_pre,
  double nu_post,
  double x_tar,
  double mu,
  double beta,
  double Wmax,
  int exponential )
{
  spiking_mnist::TraceRuleParameters rule;
  rule.tau_pre_ = tau_pre;
  rule.tau_post_ = tau_post;
  rule.nu_pre_ = nu_pre;
  rule.nu_post_ = nu_post;
  rule.x_tar_ = x_tar;
  rule.mu_ = mu;
  rule.beta_ = beta;
  rule.Wmax_ = Wmax;
  rule.exponential_ = exponential != 0;
  rule.tabulate( nest::Time::get_resolution().get_ms() );
  return new spiking_mnist::DenseInput( n_inputs, n_columns, rule );
}

extern "C" void
spiking_mnist_dense_free( void* layer )
{
  delete static_cast< spiking_mnist::DenseInput* >( layer );
}

/* The cells (node IDs ``node_ids``) become the layer's columns ``columns``: each then takes
 * its input from the layer. Returns 0, or 1 + the index of a node that is not a local
 * iaf_cond_exp_fixed_step, or whose column is out of range. */
extern "C" long
spiking_mnist_dense_attach( void* opaque, long n, const long* node_ids, const long* columns )
{
  auto& layer = *static_cast< spiking_mnist::DenseInput* >( opaque );
  for ( long k = 0; k < n; ++k )
  {
    try
    {
      auto* cell =
        dynamic_cast< spiking_mnist::iaf_cond_exp_fixed_step* >( nest::kernel().node_manager.get_node_or_proxy( node_ids[ k ] ) );
      if ( cell == nullptr or columns[ k ] < 0 or columns[ k ] >= layer.n_columns() )
      {
        return k + 1;
      }
      cell->take_dense_input( &layer, columns[ k ] );
      layer.attach( columns[ k ], cell );
    }
    catch ( const std::exception& )
    {
      return k + 1;
    }
  }
  return 0;
}

//! 0, or 1 if the stamps are not ascending or an input is out of range
extern "C" long
spiking_mnist_dense_set_spikes( void* layer, long n, const long* stamps, const long* inputs )
{
  return static_cast< spiking_mnist::DenseInput* >( layer )->set_spikes( n, stamps, inputs ) ? 0 : 1;
}

extern "C" void
spiking_mnist_dense_get_weights( void* layer, double* out )
{
  static_cast< spiking_mnist::DenseInput* >( layer )->get_weights( out, now_steps() );
}

extern "C" void
spiking_mnist_dense_set_weights( void* layer, const double* in )
{
  static_cast< spiking_mnist::DenseInput* >( layer )->set_weights( in );
}

//! 0, or 1 if a delay is out of [1, the kernel's longest delay] (steps)
extern "C" long
spiking_mnist_dense_set_delays( void* layer, const long* steps )
{
  const long max_steps = nest::kernel().connection_manager.get_max_delay();
  return static_cast< spiking_mnist::DenseInput* >( layer )->set_delays( steps, max_steps ) ? 0 : 1;
}

extern "C" void
spiking_mnist_dense_normalise( void* layer, const unsigned char* selected, double column_sum )
{
  static_cast< spiking_mnist::DenseInput* >( layer )->normalise( selected, column_sum, now_steps() );
}
