"""Settings shared by every test module."""
import os

from spiking_mnist.hardware import nest_extension


def pytest_configure(config):
    """Tests that give sPyNNaker a home of its own (``HOME``) or the pretrained runs a cache
    of their own (``XDG_CACHE_HOME``) keep using the NEST module the suite built once, in
    the user's cache, instead of compiling it again in the new one; tests of the module's
    cache choose their own directory."""
    os.environ.setdefault("SPIKING_MNIST_NEST_MODULE_DIR", str(nest_extension.cache_dir()))
