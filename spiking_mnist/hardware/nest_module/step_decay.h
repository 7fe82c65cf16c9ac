/*
 * StepDecay: exp(-steps * h / tau) for whole time steps, the decay of a trace since a spike
 * (used by stdp_dc_synapse and stdp_trace_synapse).
 */
#ifndef STEP_DECAY_H
#define STEP_DECAY_H

#include <cmath>
#include <vector>

namespace spiking_mnist
{

/* exp(-steps * h / tau) for whole steps: tabulated up to 50 tau, computed beyond. */
class StepDecay
{
public:
  void
  set( double tau, double h )
  {
    tau_ = tau;
    h_ = h;
    const long n = static_cast< long >( std::ceil( 50.0 * tau / h ) ) + 1;
    table_.resize( n );
    for ( long k = 0; k < n; ++k )
    {
      table_[ k ] = exact( k );
    }
  }

  double
  operator()( long steps ) const
  {
    return steps < static_cast< long >( table_.size() ) ? table_[ steps ] : exact( steps );
  }

private:
  double
  exact( long steps ) const
  {
    return std::exp( -( static_cast< double >( steps ) * h_ ) / tau_ );
  }

  std::vector< double > table_;
  double tau_ = 1.0;
  double h_ = 1.0;
};

} // namespace spiking_mnist

#endif
