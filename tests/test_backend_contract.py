"""Every registered backend meets the contract of spiking_mnist/hardware/backend.py: a
subclass of Backend implementing every abstract method, constructed as
``cls(simulation, max_delay)``, its optional capabilities declared as attributes, and a
translation table of roles in its module's docstring (docs/adding-a-backend.md).

Only imports the backend modules: nothing here sets up NEST or sPyNNaker."""
import importlib
import importlib.util
import inspect

import pytest

from spiking_mnist.hardware import BACKEND_CLASSES, BACKENDS, backend_class
from spiking_mnist.hardware.backend import Backend

# the simulator each backend needs beyond the package's own dependencies
NEEDS = {"spinnaker": "spynnaker"}


def registered(name):
    needs = NEEDS.get(name)
    if needs and importlib.util.find_spec(needs) is None:
        pytest.skip(f"{needs} is not installed")
    return backend_class(name)


@pytest.mark.parametrize("name", BACKENDS)
def test_a_registered_backend_is_a_complete_backend(name):
    cls = registered(name)
    module, class_name = BACKEND_CLASSES[name]
    assert cls is getattr(importlib.import_module(module), class_name)
    assert issubclass(cls, Backend)
    assert not inspect.isabstract(cls), \
        f"{cls.__name__} does not implement {sorted(cls.__abstractmethods__)}"
    assert cls.name == name


@pytest.mark.parametrize("name", BACKENDS)
def test_a_backend_is_constructed_and_checked_the_same_way(name):
    cls = registered(name)
    assert list(inspect.signature(cls).parameters) == ["simulation", "max_delay"]
    assert isinstance(inspect.getattr_static(cls, "check"), classmethod)
    assert list(inspect.signature(cls.check).parameters) == ["params"]


@pytest.mark.parametrize("name", BACKENDS)
def test_optional_capabilities_are_declared_and_provided(name):
    cls = registered(name)
    for declared, method in (("normalises_in_place", "normalise_in_place"),
                             ("keeps_theta_in_cells", "keep_theta_in_cells")):
        assert isinstance(getattr(cls, declared), bool)
        if getattr(cls, declared):  # a capability declared for the class is implemented
            assert getattr(cls, method) is not getattr(Backend, method), (name, method)
    if cls.keeps_theta_in_cells:
        assert cls.theta_of_cells is not Backend.theta_of_cells


@pytest.mark.parametrize("name", BACKENDS)
def test_a_backend_module_states_its_translation_of_roles(name):
    doc = inspect.getmodule(registered(name)).__doc__
    assert doc and "Translation of roles" in doc
    for role in ("excitatory neuron", "inhibitory neuron", "input spike source",
                 "input -> excitatory STDP"):
        assert role in doc, (name, role)


def test_an_unknown_backend_is_refused_by_name():
    from spiking_mnist.hardware import BackendError
    with pytest.raises(BackendError, match="choose one of: nest"):
        backend_class("brian2")
