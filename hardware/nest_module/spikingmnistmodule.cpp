/*
 * spikingmnistmodule: the NEST extension module of spiking_mnist (its neuron models).
 * Built and loaded by spiking_mnist.hardware.nest_module.
 */
#include "nest_extension_interface.h"

#include "dc_iaf_cond_exp.h"

class spikingmnistmodule : public nest::NESTExtensionInterface
{
public:
  void initialize() override
  {
    nest::register_node_model< spiking_mnist::dc_iaf_cond_exp >( "dc_iaf_cond_exp" );
  }
};

spikingmnistmodule spikingmnistmodule_LTX_module;
