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

/* exp(-steps * h / tau) for whole steps: tabulated up to 50 tau, computed beyond, and 0
 * beyond 750 tau, where exp rounds to 0 (below half the least subnormal double, e^-745.1):
 * the same numbers, without the exponential for a side that spiked long ago. */
class StepDecay
{
public:
  void
  set( double tau, double h )
  {
    tau_ = tau;
    h_ = h;
    const long n = static_cast< long >( std::ceil( 50.0 * tau / h ) ) + 1;
    zero_from_ = static_cast< long >( std::ceil( 750.0 * tau / h ) );
    table_.resize( n );
    for ( long k = 0; k < n; ++k )
    {
      table_[ k ] = exact( k );
    }
  }

  double
  operator()( long steps ) const
  {
    if ( steps < static_cast< long >( table_.size() ) )
    {
      return table_[ steps ];
    }
    return steps >= zero_from_ ? 0.0 : exact( steps );
  }

private:
  double
  exact( long steps ) const
  {
    return std::exp( -( static_cast< double >( steps ) * h_ ) / tau_ );
  }

  std::vector< double > table_;
  long zero_from_ = 0;
  double tau_ = 1.0;
  double h_ = 1.0;
};

} // namespace spiking_mnist

#endif
