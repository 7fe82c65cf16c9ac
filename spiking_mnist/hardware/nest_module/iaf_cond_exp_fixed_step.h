/*
 * iaf_cond_exp_fixed_step: the Diehl & Cook (2015) neuron for NEST, integrated with a fixed step.
 *
 * The equations of NEST's iaf_cond_exp (leaky integrate-and-fire, exponentially decaying
 * excitatory and inhibitory conductances, membrane clamped to V_reset while refractory),
 * plus D&C's homeostatic threshold: a spike is emitted when V_m >= V_th + theta; each spike
 * adds theta_plus to theta, which decays with tau_theta.
 *
 * Integration, per time step h (iaf_cond_exp uses an adaptive Runge-Kutta-Fehlberg solver
 * instead): the conductances decay exactly; V_m relaxes exactly towards the equilibrium
 * potential of the step's mean conductances (exponential Euler). Spikes arriving at a step
 * are added to the conductances after the step is integrated, as in iaf_cond_exp.
 *
 * Parameters (units): those of iaf_cond_exp (V_th, V_reset, t_ref, g_L, C_m, E_ex, E_in,
 * E_L, tau_syn_ex, tau_syn_in, I_e) and theta_plus (mV), tau_theta (ms).
 * State and recordables: V_m (mV), g_ex, g_in (nS), theta (mV).
 *
 * Its spikes are also kept in a PostSpikeRecord for the stdp_dc_synapse and stdp_trace_synapse
 * connections onto it (only while such connections exist; ``post_spikes_kept`` in its status says how many).
 *
 * Its input synapses may instead be kept beside it, in a DenseInput layer (dense_input.h),
 * which sends it, at each step, the weights of the input spikes of that step.
 */
#ifndef IAF_COND_EXP_FIXED_STEP_H
#define IAF_COND_EXP_FIXED_STEP_H

#include "archiving_node.h"
#include "connection.h"
#include "event.h"
#include "nest_types.h"
#include "recordables_map.h"
#include "ring_buffer.h"
#include "universal_data_logger.h"

#include "post_spike_record.h"
#include "synaptic_ring.h"

namespace spiking_mnist
{

class DenseInput;

class iaf_cond_exp_fixed_step : public nest::ArchivingNode
{
public:
  iaf_cond_exp_fixed_step();
  iaf_cond_exp_fixed_step( const iaf_cond_exp_fixed_step& );

  using nest::Node::handle;
  using nest::Node::handles_test_event;

  size_t send_test_event( nest::Node&, size_t, nest::synindex, bool ) override;
  void handle( nest::SpikeEvent& ) override;
  void handle( nest::CurrentEvent& ) override;
  void handle( nest::DataLoggingRequest& ) override;
  size_t handles_test_event( nest::SpikeEvent&, size_t ) override;
  size_t handles_test_event( nest::CurrentEvent&, size_t ) override;
  size_t handles_test_event( nest::DataLoggingRequest&, size_t ) override;

  void get_status( Dictionary& ) const override;
  void set_status( const Dictionary& ) override;

  //! the spikes kept for stdp_dc_synapse and stdp_trace_synapse connections
  PostSpikeRecord&
  post_spike_record()
  {
    return post_spikes_;
  }

  //! take input from column ``column`` of ``layer`` (see dense_input.h)
  void
  take_dense_input( DenseInput* layer, long column )
  {
    dense_input_ = layer;
    dense_column_ = column;
  }

private:
  void init_buffers_() override;
  void pre_run_hook() override;
  void update( nest::Time const&, const long, const long ) override;

  friend class nest::RecordablesMap< iaf_cond_exp_fixed_step >;
  friend class nest::UniversalDataLogger< iaf_cond_exp_fixed_step >;

  struct Parameters_
  {
    double V_th;       //!< threshold without theta (mV)
    double V_reset;    //!< reset potential (mV)
    double t_ref;      //!< refractory period (ms)
    double g_L;        //!< leak conductance (nS)
    double C_m;        //!< membrane capacitance (pF)
    double E_ex;       //!< excitatory reversal potential (mV)
    double E_in;       //!< inhibitory reversal potential (mV)
    double E_L;        //!< leak reversal (resting) potential (mV)
    double tau_syn_ex; //!< excitatory conductance decay time constant (ms)
    double tau_syn_in; //!< inhibitory conductance decay time constant (ms)
    double I_e;        //!< constant input current (pA)
    double theta_plus; //!< threshold increment per spike (mV)
    double tau_theta;  //!< threshold decay time constant (ms)

    Parameters_();
    void get( Dictionary& ) const;
    void set( const Dictionary&, nest::Node* );
  };

  struct State_
  {
    double V_m;   //!< membrane potential (mV)
    double g_ex;  //!< excitatory conductance (nS)
    double g_in;  //!< inhibitory conductance (nS)
    double theta; //!< homeostatic threshold increment (mV)
    int refractory_steps; //!< steps of refractoriness left

    explicit State_( const Parameters_& );
    void get( Dictionary& ) const;
    void set( const Dictionary&, nest::Node* );
  };

  struct Buffers_
  {
    explicit Buffers_( iaf_cond_exp_fixed_step& );
    Buffers_( const Buffers_&, iaf_cond_exp_fixed_step& );

    nest::UniversalDataLogger< iaf_cond_exp_fixed_step > logger_;
    SynapticRing spikes_; //!< excitatory and inhibitory conductance jumps per step
    nest::RingBuffer currents_;
    double I_stim; //!< input current of the current step (pA)
  };

  //! constants of one time step, from the parameters and the resolution
  struct Variables_
  {
    double h;               //!< time step (ms)
    double decay_ex;        //!< exp(-h / tau_syn_ex)
    double decay_in;        //!< exp(-h / tau_syn_in)
    double mean_ex;         //!< mean over a step of g_ex, per unit of g_ex at its start
    double mean_in;         //!< the same for g_in
    double decay_theta;     //!< exp(-h / tau_theta)
    int refractory_counts;  //!< t_ref in steps
    long keep_steps;        //!< longest delay + minimum delay (steps): see PostSpikeRecord
  };

  double get_V_m() const { return S_.V_m; }
  double get_g_ex() const { return S_.g_ex; }
  double get_g_in() const { return S_.g_in; }
  double get_theta() const { return S_.theta; }

  Parameters_ P_;
  State_ S_;
  Variables_ V_;
  Buffers_ B_;
  PostSpikeRecord post_spikes_;
  bool receives_currents_ = false;    //!< a current source is connected: read its buffer
  DenseInput* dense_input_ = nullptr; //!< input synapses kept beside the cells, or none
  long dense_column_ = 0;             //!< this cell's column in dense_input_

  static nest::RecordablesMap< iaf_cond_exp_fixed_step > recordablesMap_;
};

inline size_t
iaf_cond_exp_fixed_step::send_test_event( nest::Node& target, size_t receptor_type, nest::synindex, bool )
{
  nest::SpikeEvent e;
  e.set_sender( *this );
  return target.handles_test_event( e, receptor_type );
}

inline size_t
iaf_cond_exp_fixed_step::handles_test_event( nest::SpikeEvent&, size_t receptor_type )
{
  if ( receptor_type != 0 )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  return 0;
}

inline size_t
iaf_cond_exp_fixed_step::handles_test_event( nest::CurrentEvent&, size_t receptor_type )
{
  if ( receptor_type != 0 )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  receives_currents_ = true;
  return 0;
}

inline size_t
iaf_cond_exp_fixed_step::handles_test_event( nest::DataLoggingRequest& dlr, size_t receptor_type )
{
  if ( receptor_type != 0 )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  return B_.logger_.connect_logging_device( dlr, recordablesMap_ );
}

} // namespace spiking_mnist

#endif
