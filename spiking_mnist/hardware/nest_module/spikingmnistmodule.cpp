/*
 * spikingmnistmodule: the NEST extension module of spiking_mnist (its neuron and synapse models).
 * Built and loaded by spiking_mnist.hardware.nest_module.
 */
#include "nest_extension_interface.h"

#include "iaf_cond_exp_fixed_step.h"
#include "stdp_dc_synapse.h"
#include "stdp_trace_synapse.h"

class spikingmnistmodule : public nest::NESTExtensionInterface
{
public:
  void initialize() override
  {
    nest::register_node_model< spiking_mnist::iaf_cond_exp_fixed_step >( "iaf_cond_exp_fixed_step" );
    spiking_mnist::register_stdp_dc_synapse( "stdp_dc_synapse" );
    spiking_mnist::register_stdp_trace_synapse( "stdp_trace_synapse" );
  }
};

spikingmnistmodule spikingmnistmodule_LTX_module;
