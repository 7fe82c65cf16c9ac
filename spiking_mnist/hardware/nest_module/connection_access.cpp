/*
 * Many synapse weights read or written in one call from Python (through ctypes), each
 * connection named by the five numbers NEST gives it: source and target node IDs, target
 * thread, synapse model ID and port (the connection's index in its connector).
 *
 * NEST offers one route to a weight: a status dictionary of every parameter of the
 * connection (~1 us; PyNEST adds a Python dictionary, ~5 us). For the input synapses of the
 * D&C network (``stdp_triplet_synapse`` and this module's ``stdp_dc_synapse`` and
 * ``stdp_trace_synapse``, the labelled
 * ``_lbl`` forms PyNN uses, and copies of them) these functions read and write the weight in place (~15 ns when the connections
 * come in the kernel's memory order: thread, synapse type, port), reaching the kernel's connector table, the connector's
 * connections and the synapse's weight, which NEST keeps private, through explicit template
 * instantiation (which C++ allows to name private members, [temp.spec.general]/6). Other
 * synapse types take the dictionary route. The layout comes from the installed NEST's
 * headers; the module is rebuilt for every NEST version.
 *
 * A ``stdp_dc_synapse`` or ``stdp_trace_synapse`` applies the potentiation of postsynaptic spikes at its next
 * presynaptic spike: before its weight is read, written or scaled here, the potentiation
 * of the postsynaptic spikes that have reached it is applied (flushed), up to the time by
 * which NEST has delivered every presynaptic spike (the current time, less the minimum
 * delay when the last time slice was completed), so that the weight is the rule's.
 *
 * Each function that takes connections returns 0, or 1 + the index of the connection that
 * failed. ``spiking_mnist_list_connections`` finds the connections of one projection in bulk,
 * in that order, without building a status dictionary per connection (~10 us each).
 */
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "connector_base.h"
#include "dictionary.h"
#include "kernel_manager.h"
#include "nest_names.h"
#include "stdp_triplet_synapse.h"
#include "target_identifier.h"

#include "stdp_dc_synapse.h"
#include "stdp_trace_synapse.h"

#include "connection_label.h"  // after the headers it uses but does not include

namespace
{
using Triplet = nest::stdp_triplet_synapse< nest::TargetIdentifierPtrRport >;
using LabelledTriplet = nest::ConnectionLabel< Triplet >;  // PyNN connects with "_lbl" models
using DC = spiking_mnist::stdp_dc_synapse< nest::TargetIdentifierPtrRport >;
using LabelledDC = nest::ConnectionLabel< DC >;
using Trace = spiking_mnist::stdp_trace_synapse< nest::TargetIdentifierPtrRport >;
using LabelledTrace = nest::ConnectionLabel< Trace >;

// member(Tag{}) returns the member pointer named in the instantiation of Expose below
template < typename Tag, typename Tag::type Member >
struct Expose
{
  friend typename Tag::type
  member( Tag )
  {
    return Member;
  }
};

struct ConnectorTable
{
  using type = std::vector< std::vector< nest::ConnectorBase* > > nest::ConnectionManager::*;
  friend type member( ConnectorTable );
};
struct TripletConnections
{
  using ConnectionT = Triplet;
  using type = BlockVector< Triplet > nest::Connector< Triplet >::*;
  friend type member( TripletConnections );
};
struct LabelledTripletConnections
{
  using ConnectionT = LabelledTriplet;
  using type = BlockVector< LabelledTriplet > nest::Connector< LabelledTriplet >::*;
  friend type member( LabelledTripletConnections );
};
struct DCConnections
{
  using ConnectionT = DC;
  using type = BlockVector< DC > nest::Connector< DC >::*;
  friend type member( DCConnections );
};
struct LabelledDCConnections
{
  using ConnectionT = LabelledDC;
  using type = BlockVector< LabelledDC > nest::Connector< LabelledDC >::*;
  friend type member( LabelledDCConnections );
};
struct TraceConnections
{
  using ConnectionT = Trace;
  using type = BlockVector< Trace > nest::Connector< Trace >::*;
  friend type member( TraceConnections );
};
struct LabelledTraceConnections
{
  using ConnectionT = LabelledTrace;
  using type = BlockVector< LabelledTrace > nest::Connector< LabelledTrace >::*;
  friend type member( LabelledTraceConnections );
};
struct WeightOf
{
  using type = double Triplet::*;
  friend type member( WeightOf );
};
template struct Expose< ConnectorTable, &nest::ConnectionManager::connections_ >;
template struct Expose< TripletConnections, &nest::Connector< Triplet >::C_ >;
template struct Expose< LabelledTripletConnections, &nest::Connector< LabelledTriplet >::C_ >;
template struct Expose< WeightOf, &Triplet::weight_ >;
template struct Expose< DCConnections, &nest::Connector< DC >::C_ >;
template struct Expose< LabelledDCConnections, &nest::Connector< LabelledDC >::C_ >;
template struct Expose< TraceConnections, &nest::Connector< Trace >::C_ >;
template struct Expose< LabelledTraceConnections, &nest::Connector< LabelledTrace >::C_ >;

/* The step up to which every presynaptic spike has been delivered: NEST delivers the spikes
 * of a time slice at the start of the next one, so after a completed slice those of its
 * last min_delay steps are still to come. */
long
delivered_until()
{
  const auto& simulation = nest::kernel().simulation_manager;
  const long origin = simulation.get_slice_origin().get_steps();
  return simulation.get_from_step() == 0 ? origin - nest::kernel().connection_manager.get_min_delay() : origin;
}

/* The connector of synapse type ``synapse`` on ``thread`` if it has a connection ``port``
 * from ``source`` onto ``target``, else nullptr. (NEST's own status functions do not check
 * the port, which changes when NEST sorts the connections again.) */
nest::ConnectorBase*
connector_of( long source, long target, long thread, long synapse, long port )
{
  auto& table = nest::kernel().connection_manager.*member( ConnectorTable {} );
  if ( thread < 0 or static_cast< size_t >( thread ) >= table.size() or synapse < 0
    or static_cast< size_t >( synapse ) >= table[ thread ].size() )
  {
    return nullptr;
  }
  nest::ConnectorBase* connector = table[ thread ][ synapse ];
  if ( connector == nullptr or port < 0 or static_cast< size_t >( port ) >= connector->size()
    or static_cast< long >( connector->get_target_node_id( thread, port ) ) != target
    or static_cast< long >( nest::kernel().connection_manager.get_source_node_id( thread, synapse, port ) )
      != source )
  {
    return nullptr;
  }
  return connector;
}

/* Where a connection is: its connector, port, thread and synapse type. */
struct Place
{
  nest::ConnectorBase* connector;
  long port;
  long thread;
  long synapse;
};

/* The weight of the connection at ``place``, whose connector holds the synapses of ``Tag``. */
template < typename Tag >
double*
weight_at( const Place& place, long )
{
  auto& connections =
    static_cast< nest::Connector< typename Tag::ConnectionT >* >( place.connector )->*member( Tag {} );
  return &( connections[ place.port ].*member( WeightOf {} ) );
}

/* The same for a stdp_dc_synapse or stdp_trace_synapse, after it has applied the
 * potentiation due up to step ``until`` (see the top of the file). */
template < typename Tag >
double*
flushed_weight_at( const Place& place, long until )
{
  auto& connection = ( static_cast< nest::Connector< typename Tag::ConnectionT >* >( place.connector )
    ->*member( Tag {} ) )[ place.port ];
  using Common = typename Tag::ConnectionT::CommonPropertiesType;
  const auto& common = static_cast< const Common& >(
    nest::kernel().model_manager.get_connection_model( place.synapse, place.thread ).get_common_properties() );
  connection.flush( place.thread, until, common );
  return &connection.weight_in_place();
}

double*
no_weight( const Place&, long )
{
  return nullptr;
}

/* How to reach a weight of ``connector`` in place: a function that returns its address
 * (given the step up to which presynaptic spikes have been delivered), or nullptr if the
 * synapse type is not a (labelled) triplet, D&C or trace STDP synapse, whose weight the caller
 * reads through NEST's status dictionaries instead. */
using WeightAccess = double* (*) ( const Place&, long );

WeightAccess
weight_access( nest::ConnectorBase* connector )
{
  if ( typeid( *connector ) == typeid( nest::Connector< LabelledTriplet > ) )
  {
    return weight_at< LabelledTripletConnections >;
  }
  if ( typeid( *connector ) == typeid( nest::Connector< Triplet > ) )
  {
    return weight_at< TripletConnections >;
  }
  if ( typeid( *connector ) == typeid( nest::Connector< LabelledDC > ) )
  {
    return flushed_weight_at< LabelledDCConnections >;
  }
  if ( typeid( *connector ) == typeid( nest::Connector< DC > ) )
  {
    return flushed_weight_at< DCConnections >;
  }
  if ( typeid( *connector ) == typeid( nest::Connector< LabelledTrace > ) )
  {
    return flushed_weight_at< LabelledTraceConnections >;
  }
  if ( typeid( *connector ) == typeid( nest::Connector< Trace > ) )
  {
    return flushed_weight_at< TraceConnections >;
  }
  return no_weight;
}

/* Calls ``visit(i, connector)`` for each connection i, after checking that it exists. */
template < typename Visit >
long
each_connection( long n,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  Visit visit )
{
  for ( long i = 0; i < n; ++i )
  {
    try
    {
      nest::ConnectorBase* connector = connector_of( source[ i ], target[ i ], thread[ i ], synapse[ i ], port[ i ] );
      if ( connector == nullptr )
      {
        return i + 1;
      }
      visit( i, connector );
    }
    catch ( ... )
    {
      return i + 1;
    }
  }
  return 0;
}

/* Calls ``in_place(i, weight)`` with a reference to the weight of each connection i, or
 * ``through_status(i)`` where the weight is only reached through a status dictionary. */
template < typename InPlace, typename ThroughStatus >
long
each_weight( long n,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  InPlace in_place,
  ThroughStatus through_status )
{
  nest::ConnectorBase* known = nullptr;
  WeightAccess access = no_weight;
  const long until = delivered_until();
  return each_connection( n,
    source,
    target,
    thread,
    synapse,
    port,
    [ & ]( long i, nest::ConnectorBase* connector )
    {
      if ( connector != known )  // connections come grouped by connector
      {
        known = connector;
        access = weight_access( connector );
      }
      if ( double* weight = access( Place { connector, port[ i ], thread[ i ], synapse[ i ] }, until ) )
      {
        in_place( i, *weight );
      }
      else
      {
        through_status( i );
      }
    } );
}

/* Sets ``name`` of connection i through NEST's status dictionary (which checks the value). */
void
set_through_status( long i,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  const std::string& name,
  double value )
{
  Dictionary status;
  status[ name ] = value;
  nest::kernel().connection_manager.set_synapse_status(
    source[ i ], target[ i ], thread[ i ], synapse[ i ], port[ i ], status );
}
} // namespace

extern "C" long
spiking_mnist_get_weights( long n,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  double* weights )
{
  return each_weight(
    n,
    source,
    target,
    thread,
    synapse,
    port,
    [ & ]( long i, double& weight ) { weights[ i ] = weight; },
    [ & ]( long i )
    {
      const Dictionary status = nest::kernel().connection_manager.get_synapse_status(
        source[ i ], target[ i ], thread[ i ], synapse[ i ], port[ i ] );
      weights[ i ] = status.get< double >( nest::names::weight );
    } );
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
  return each_weight(
    n,
    source,
    target,
    thread,
    synapse,
    port,
    [ & ]( long i, double& weight ) { weight = weights[ i ]; },
    [ & ]( long i )
    { set_through_status( i, source, target, thread, synapse, port, nest::names::weight, weights[ i ] ); } );
}

/* Scales the weights of the connections in place so that those of each selected column
 * (``column[i]`` in [0, n_columns) is connection i's column; ``selected`` null: all) sum to
 * ``column_sum``, as ``diehl_cook.normalise_columns`` (a column summing to 0 is left as it is).
 * One pass reads and checks every connection and sums the columns, a second scales them. All
 * weights must be reachable in place (triplet, D&C or trace STDP synapses). */
extern "C" long
spiking_mnist_normalise_columns( long n,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  const long* column,
  long n_columns,
  const unsigned char* selected,
  double column_sum )
{
  std::vector< double* > weight( n );
  std::vector< double > sums( n_columns, 0.0 );
  const long failed = each_weight(
    n,
    source,
    target,
    thread,
    synapse,
    port,
    [ & ]( long i, double& w )
    {
      if ( column[ i ] < 0 or column[ i ] >= n_columns )
      {
        throw std::out_of_range( "column" );
      }
      weight[ i ] = &w;
      sums[ column[ i ] ] += w;
    },
    []( long ) { throw std::invalid_argument( "weight not reachable in place" ); } );
  if ( failed )
  {
    return failed;
  }
  std::vector< double > factor( n_columns, 1.0 );
  for ( long c = 0; c < n_columns; ++c )
  {
    if ( ( selected == nullptr or selected[ c ] ) and sums[ c ] > 0 )
    {
      factor[ c ] = column_sum / sums[ c ];
    }
  }
  for ( long i = 0; i < n; ++i )
  {
    *weight[ i ] *= factor[ column[ i ] ];
  }
  return 0;
}

extern "C" long
spiking_mnist_set_delays( long n,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  const double* delays )
{
  // a delay is checked and turned into steps by the synapse's own set_status
  return each_connection( n,
    source,
    target,
    thread,
    synapse,
    port,
    [ & ]( long i, nest::ConnectorBase* )
    { set_through_status( i, source, target, thread, synapse, port, nest::names::delay, delays[ i ] ); } );
}

/* The connections of synapse type ``synapse`` from node IDs [first_source, first_source +
 * n_sources) onto [first_target, first_target + n_targets), in the kernel's memory order
 * (thread, port): their source, target, thread and port, the first ``capacity`` of them.
 * Returns how many there are (call with capacity 0 to size the arrays), or -1 on an error. */
extern "C" long
spiking_mnist_list_connections( long synapse,
  long first_source,
  long n_sources,
  long first_target,
  long n_targets,
  long capacity,
  long* source,
  long* target,
  long* thread,
  long* port )
{
  try
  {
    auto& table = nest::kernel().connection_manager.*member( ConnectorTable {} );
    long count = 0;
    for ( size_t tid = 0; tid < table.size(); ++tid )
    {
      if ( synapse < 0 or static_cast< size_t >( synapse ) >= table[ tid ].size()
        or table[ tid ][ synapse ] == nullptr )
      {
        continue;
      }
      const nest::ConnectorBase* connector = table[ tid ][ synapse ];
      for ( size_t lcid = 0; lcid < connector->size(); ++lcid )
      {
        const long to = connector->get_target_node_id( tid, lcid );
        if ( to < first_target or to >= first_target + n_targets )
        {
          continue;
        }
        const long from = nest::kernel().connection_manager.get_source_node_id( tid, synapse, lcid );
        if ( from < first_source or from >= first_source + n_sources )
        {
          continue;
        }
        if ( count < capacity )
        {
          source[ count ] = from;
          target[ count ] = to;
          thread[ count ] = tid;
          port[ count ] = lcid;
        }
        ++count;
      }
    }
    return count;
  }
  catch ( ... )
  {
    return -1;
  }
}
