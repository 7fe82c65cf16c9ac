/*
 * SynapticRing: the excitatory and inhibitory input of a cell for each coming time step,
 * in one ring indexed by absolute step, the two sums of a step side by side.
 *
 * NEST's RingBuffer keeps each channel in its own vector, indexed through the kernel's
 * table of moduli; a cell reading both at every step touches two places in memory. Here
 * one read takes both from one cache line, and four steps share a line. The ring holds
 * at least the minimum plus the longest delay in steps, rounded up to a power of two, as
 * many steps as a spike can be delivered ahead of the step that reads it.
 */
#ifndef SYNAPTIC_RING_H
#define SYNAPTIC_RING_H

#include <vector>

namespace spiking_mnist
{

class SynapticRing
{
public:
  //! empty, for ``steps`` steps ahead at most
  void
  clear( long steps )
  {
    long n = 1;
    while ( n < steps )
    {
      n <<= 1;
    }
    mask_ = n - 1;
    slots_.assign( 2 * n, 0.0 );
  }

  void
  add_excitatory( long step, double w )
  {
    slots_[ 2 * ( step & mask_ ) ] += w;
  }

  void
  add_inhibitory( long step, double w )
  {
    slots_[ 2 * ( step & mask_ ) + 1 ] += w;
  }

  //! the sums of ``step``, which are then cleared
  void
  take( long step, double& excitatory, double& inhibitory )
  {
    double* slot = &slots_[ 2 * ( step & mask_ ) ];
    excitatory = slot[ 0 ];
    inhibitory = slot[ 1 ];
    slot[ 0 ] = 0.0;
    slot[ 1 ] = 0.0;
  }

private:
  std::vector< double > slots_;
  long mask_ = 0;
};

} // namespace spiking_mnist

#endif
