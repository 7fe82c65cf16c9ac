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
#include <algorithm>
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

/* Whether the weights reached through ``access`` must have the potentiation due applied
 * before they are read in place: not NEST's triplet synapses, nor stdp_dc_synapse with
 * summed traces (``synapse`` on ``thread``), which add it at presynaptic spikes only
 * unless potentiate_on_read. */
bool
flushes_before_reading( WeightAccess access, long synapse, long thread )
{
  if ( access == weight_at< TripletConnections > or access == weight_at< LabelledTripletConnections > )
  {
    return false;
  }
  if ( access == flushed_weight_at< DCConnections > or access == flushed_weight_at< LabelledDCConnections > )
  {
    const auto& common = static_cast< const spiking_mnist::STDPDCCommonProperties& >(
      nest::kernel().model_manager.get_connection_model( synapse, thread ).get_common_properties() );
    return not common.all_to_all_ or common.potentiate_on_read_;
  }
  return true;
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

/* Column normalisation through pointers found once (see ColumnCache below). */
namespace
{
/* The input weights of a projection, each with its column (target neuron), reached for
 * normalisation through the addresses a checked walk of the kernel's connection table found
 * (``each_weight``: five IDs read and a connector, target and source checked per
 * connection), which hold as long as NEST keeps the connections where they are. NEST moves connections
 * only when it is reset (a new kernel fingerprint) or when it sorts them again after
 * connections were created or deleted (a new number of connections): either makes the next
 * normalisation walk again, checking every connection as before. */
struct ColumnCache
{
  // the connections, as given (each_weight's arguments), and their columns
  std::vector< long > source, target, thread, synapse, port, column;
  long n_columns;

  // what the last walk found, valid while the kernel and its number of connections are
  unsigned long fingerprint = 0;
  size_t n_connections = 0;
  bool found = false;
  std::vector< double* > weight;  // per connection
  // stretches of connections [first, last) of one connector whose weight access applies
  // due potentiation first (stdp_dc_synapse, stdp_trace_synapse): called again before
  // each reading
  struct Flushing
  {
    long first, last;
    nest::ConnectorBase* connector;
    WeightAccess access;
  };
  std::vector< Flushing > flushing;
  // groups of connections [group[g], group[g + 1]), each on one NEST thread; when every
  // column lies in one group, the groups are normalised in parallel (on NEST's threads)
  std::vector< long > group;
  bool columns_per_group = false;
};

bool
kernel_unchanged( const ColumnCache& cache )
{
  return cache.found and cache.fingerprint == nest::kernel().get_fingerprint()
    and cache.n_connections == nest::kernel().connection_manager.get_num_connections();
}

/* Walk the connections of ``cache`` and keep where their weights are; 0 or 1 + the index
 * of the connection that failed (missing, column out of range, weight not in place). */
long
find_weights( ColumnCache& cache, long until )
{
  const long n = cache.source.size();
  cache.found = false;
  cache.weight.assign( n, nullptr );
  cache.flushing.clear();
  cache.group.assign( 1, 0 );
  nest::ConnectorBase* known = nullptr;
  WeightAccess access = no_weight;
  std::vector< long > group_of_column( cache.n_columns, -1 );
  bool columns_per_group = true;
  const long failed = each_connection( n,
    cache.source.data(),
    cache.target.data(),
    cache.thread.data(),
    cache.synapse.data(),
    cache.port.data(),
    [ & ]( long i, nest::ConnectorBase* connector )
    {
      const long column = cache.column[ i ], thread = cache.thread[ i ];
      if ( column < 0 or column >= cache.n_columns )
      {
        throw std::out_of_range( "column" );
      }
      if ( connector != known )  // connections come grouped by connector
      {
        known = connector;
        access = weight_access( connector );
        if ( flushes_before_reading( access, cache.synapse[ i ], thread ) )
        {
          cache.flushing.push_back( { i, i, connector, access } );
        }
        if ( i > 0 and thread != cache.thread[ i - 1 ] )
        {
          cache.group.push_back( i );
        }
      }
      if ( not cache.flushing.empty() and cache.flushing.back().connector == connector )
      {
        cache.flushing.back().last = i + 1;
      }
      cache.weight[ i ] = access( Place { connector, cache.port[ i ], thread, cache.synapse[ i ] }, until );
      if ( cache.weight[ i ] == nullptr )
      {
        throw std::invalid_argument( "weight not reachable in place" );
      }
      long& owner = group_of_column[ column ];
      const long group = cache.group.size() - 1;
      columns_per_group = columns_per_group and ( owner == -1 or owner == group );
      owner = group;
    } );
  if ( failed )
  {
    return failed;
  }
  cache.group.push_back( n );
  cache.columns_per_group = columns_per_group;
  cache.fingerprint = nest::kernel().get_fingerprint();
  cache.n_connections = nest::kernel().connection_manager.get_num_connections();
  cache.found = true;
  return 0;
}

/* Normalise the columns of the connections [first, last) of ``cache`` (every connection of
 * a column among them), summed in their order, as the walk would. */
void
normalise_range( const ColumnCache& cache,
  long first,
  long last,
  long until,
  const unsigned char* selected,
  double column_sum,
  std::vector< double >& sums )
{
  for ( const auto& stretch : cache.flushing )  // apply due potentiation before reading
  {
    for ( long i = std::max( first, stretch.first ); i < std::min( last, stretch.last ); ++i )
    {
      stretch.access( Place { stretch.connector, cache.port[ i ], cache.thread[ i ], cache.synapse[ i ] }, until );
    }
  }
  const long* column = cache.column.data();
  double* const* weight = cache.weight.data();
  for ( long i = first; i < last; ++i )
  {
    sums[ column[ i ] ] += *weight[ i ];
  }
  for ( double& sum : sums )  // the sum becomes the column's factor
  {
    const long c = &sum - sums.data();
    sum = ( ( selected == nullptr or selected[ c ] ) and sum > 0 ) ? column_sum / sum : 1.0;
  }
  for ( long i = first; i < last; ++i )
  {
    *weight[ i ] *= sums[ column[ i ] ];
  }
}
} // namespace

/* A ColumnCache of the connections (see each_weight) and their columns ``column[i]`` in
 * [0, n_columns); nothing is checked until the first normalisation. Free it with
 * spiking_mnist_free_column_cache. */
extern "C" void*
spiking_mnist_new_column_cache( long n,
  const long* source,
  const long* target,
  const long* thread,
  const long* synapse,
  const long* port,
  const long* column,
  long n_columns )
{
  return new ColumnCache { { source, source + n },
    { target, target + n },
    { thread, thread + n },
    { synapse, synapse + n },
    { port, port + n },
    { column, column + n },
    n_columns };
}

extern "C" void
spiking_mnist_free_column_cache( void* cache )
{
  delete static_cast< ColumnCache* >( cache );
}

/* Scales the weights of the connections of ``cache`` in place so that those of each
 * selected column (``selected`` null: all) sum to ``column_sum``, as
 * ``diehl_cook.normalise_columns`` (a column summing to 0 is left as it is): each column is
 * summed in the order of its connections, then scaled. Returns 0, or 1 + the index of the
 * connection that failed (missing, column out of range, weight not in place: triplet, D&C
 * or trace STDP synapses only). */
extern "C" long
spiking_mnist_normalise_column_cache( void* opaque, const unsigned char* selected, double column_sum )
{
  ColumnCache& cache = *static_cast< ColumnCache* >( opaque );
  const long until = delivered_until();
  if ( not kernel_unchanged( cache ) )
  {
    if ( const long failed = find_weights( cache, until ) )
    {
      return failed;
    }
  }
  const long groups = cache.group.size() - 1;
  const long threads = cache.columns_per_group ? std::min< long >( groups, nest::kernel().vp_manager.get_num_threads() ) : 1;
  if ( threads <= 1 )
  {
    std::vector< double > sums( cache.n_columns, 0.0 );
    normalise_range( cache, 0, cache.group.back(), until, selected, column_sum, sums );
    return 0;
  }
  // each column on one NEST thread: the groups of one thread touch only its columns
#pragma omp parallel num_threads( threads )
  {
    std::vector< double > sums( cache.n_columns );
#pragma omp for schedule( static, 1 )
    for ( long g = 0; g < groups; ++g )
    {
      std::fill( sums.begin(), sums.end(), 0.0 );
      normalise_range( cache, cache.group[ g ], cache.group[ g + 1 ], until, selected, column_sum, sums );
    }
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
