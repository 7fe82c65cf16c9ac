/*
 * spikingmnistmodule: the NEST extension module of spiking_mnist (its neuron models).
 * Built and loaded by spiking_mnist.hardware.nest_module.
 */
#include "nest_extension_interface.h"

#include "iaf_cond_exp_fixed_step.h"

class spikingmnistmodule : public nest::NESTExtensionInterface
{
public:
  void initialize() override
  {
    nest::register_node_model< spiking_mnist::iaf_cond_exp_fixed_step >( "iaf_cond_exp_fixed_step" );
  }
};

spikingmnistmodule spikingmnistmodule_LTX_module;
