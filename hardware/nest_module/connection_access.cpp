/*
 * Many synapse weights read or written in one call from Python (through ctypes), each
 * connection named by the five numbers NEST gives it: source and target node IDs, target
 * thread, synapse model ID and port. PyNEST builds a Python dictionary of every parameter
 * per connection, which costs ~10 us each; these functions go straight to the kernel.
 *
 * Each returns 0, or 1 + the index of the connection that failed.
 */
#include "dictionary.h"
#include "kernel_manager.h"
#include "nest_names.h"

extern "C" long
spiking_mnist_get_weights( long n,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  double* weights )
{
  for ( long i = 0; i < n; ++i )
  {
    try
    {
      const Dictionary status = nest::kernel().connection_manager.get_synapse_status(
        source[ i ], target[ i ], thread[ i ], synapse[ i ], port[ i ] );
      weights[ i ] = status.get< double >( nest::names::weight );
    }
    catch ( ... )
    {
      return i + 1;
    }
  }
  return 0;
}

extern "C" long
spiking_mnist_set_weights( long n,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  const double* weights )
{
  for ( long i = 0; i < n; ++i )
  {
    try
    {
      Dictionary status;
      status[ nest::names::weight ] = weights[ i ];
      nest::kernel().connection_manager.set_synapse_status(
        source[ i ], target[ i ], thread[ i ], synapse[ i ], port[ i ], status );
    }
    catch ( ... )
    {
      return i + 1;
    }
  }
  return 0;
}
