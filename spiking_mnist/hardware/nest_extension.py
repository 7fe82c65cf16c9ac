"""This project's NEST extension module: built on first use, cached, installed into NEST.

The module (C++ sources in ``hardware/nest_module/``) holds ``iaf_cond_exp_fixed_step``: NEST's
``iaf_cond_exp`` equations integrated with a fixed step instead of an adaptive
Runge-Kutta-Fehlberg solver, plus D&C's homeostatic threshold; ``stdp_dc_synapse``, D&C's
triplet STDP rule, nearest-spike as their code states it or with traces summed over all
spikes as NEST's ``stdp_triplet_synapse`` runs it (``stdp_dc_synapse.h`` says how it runs
and what differs); ``stdp_trace_synapse``, the presynaptic-trace rules D&C compared with it
(power-law and exponential weight dependence, pre-and-post; ``stdp_trace_synapse.h``); and functions that list a projection's connections and read and write their weights and delays in one call each
(:class:`KernelConnections`). It is compiled with the system's C++ compiler (``$CXX``, else ``g++``) against the headers of the installed NEST and
of the ``boost-headers`` package, once per NEST version and source version, into
``$XDG_CACHE_HOME/spiking-mnist/nest-module`` (else ``~/.cache/...``; the
``SPIKING_MNIST_NEST_MODULE_DIR`` environment variable chooses another directory).

A cached module is used only for the sources and the NEST it was built from: its directory
is named by a sha256 of this file, the C++ sources and the contents of NEST's kernel library
(:func:`module_file`). After a successful build the sha256 of the module file is written
beside it (``spikingmnistmodule.so.sha256``); a cached module is loaded only if it still
matches, and is rebuilt otherwise, with a log line saying why (:func:`build`).
"""
from __future__ import annotations

import ctypes
import fcntl
import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from spiking_mnist.hardware import BackendError

NAME = "spikingmnistmodule"
#: the NEST neuron models the module registers
MODELS = ("iaf_cond_exp_fixed_step",)
#: the NEST synapse models the module registers (each also as ``<name>_lbl``)
SYNAPSE_MODELS = ("stdp_dc_synapse", "stdp_trace_synapse")
_SOURCES = ("iaf_cond_exp_fixed_step.cpp", "stdp_dc_synapse.cpp", "stdp_trace_synapse.cpp",
            "dense_input.cpp", "connection_access.cpp", "spikingmnistmodule.cpp")
_HEADERS = ("iaf_cond_exp_fixed_step.h", "stdp_dc_synapse.h", "stdp_trace_synapse.h",
            "dc_rule.h", "trace_rule.h", "dense_input.h", "synaptic_ring.h", "step_decay.h",
            "post_spike_record.h",
            "include/ltdl.h")
# a kernel symbol whose mangled name shows the C++ string ABI NEST was built with
_OLD_ABI_SYMBOL = b"_ZNK4nest4Node21get_synaptic_elementsESs"
#: the suffix of the file beside a built module that holds the module's sha256
DIGEST_SUFFIX = ".sha256"

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where built modules are kept (see the module docstring)."""
    chosen = os.environ.get("SPIKING_MNIST_NEST_MODULE_DIR")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "spiking-mnist" / "nest-module"


def _source_dir() -> Path:
    return Path(str(resources.files("spiking_mnist.hardware").joinpath("nest_module")))


def _nest_kernel(nest) -> Path:
    """NEST's compiled kernel (the ``nestkernel_api`` extension of a pip-installed NEST)."""
    found = sorted(Path(nest.__file__).parent.glob("nestkernel_api*.so"))
    if not found:
        raise BackendError(f"no nestkernel_api library beside {nest.__file__}; the NEST "
                           "module needs a pip-installed NEST 3.10 or later, or set "
                           "simulation.cell_integration=adaptive")
    return found[0]


def file_sha256(path: Path) -> str:
    """sha256 (hex) of the contents of ``path``."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


@functools.lru_cache(maxsize=4)
def _kernel_sha256(path: str) -> str:
    """sha256 of NEST's kernel library, read once per process (~25 MB): the kernel a
    process runs is the one it loaded, whatever happens to the file later."""
    return file_sha256(Path(path))


def module_file(nest) -> Path:
    """The built module for this NEST and these sources (it may not exist yet): its
    directory is named by a hash of them, NEST's kernel library by its contents."""
    digest = hashlib.sha256(Path(__file__).read_bytes())   # how it is built
    for name in _SOURCES + _HEADERS:
        digest.update((_source_dir() / name).read_bytes())
    digest.update(_kernel_sha256(str(_nest_kernel(nest))).encode())
    return cache_dir() / f"nest-{nest.__version__}-{digest.hexdigest()[:12]}" / f"{NAME}.so"


def digest_file(module: Path) -> Path:
    """The file beside ``module`` that holds its sha256, written after it was built."""
    return module.with_name(module.name + DIGEST_SUFFIX)


def unverified(module: Path) -> str | None:
    """Why the cached ``module`` may not be loaded; None if it matches its recorded sha256."""
    recorded = digest_file(module)
    try:
        expected = recorded.read_text().split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return f"{recorded.name}, its sha256 written after the build, is missing or unreadable"
    actual = file_sha256(module)
    if actual != expected:
        return (f"its sha256 {actual[:16]}... is not the {expected[:16]}... recorded when it "
                "was built")
    return None


class _BuildLock:
    """An exclusive lock on the module's directory while it is checked or built, so that
    processes starting together build it once and never see it half-recorded."""

    def __init__(self, directory: Path):
        self._directory = directory

    def __enter__(self):
        try:
            self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(self._directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:     # a read-only cache: its module is only read
            self._fd = None
        else:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)   # releases the lock


def _openmp_runtime(kernel: Path) -> list[str]:
    """Linker arguments that make the module's OpenMP code run on the OpenMP runtime NEST's
    kernel runs on: a pip-installed NEST bundles its own libgomp beside the package, and a
    second runtime would number the threads of its own parallel regions. (NEST's headers
    register a synapse model for every thread inside an OpenMP parallel region, which the
    module compiles.) None needed when NEST uses the system's runtime."""
    bundled = sorted((kernel.parent.parent / "nest_simulator.libs").glob("libgomp*.so*"))
    if not bundled:
        return []
    return ["-Wl,--as-needed", str(bundled[0]), f"-Wl,-rpath,{bundled[0].parent}"]


def _compile_command(nest, out: Path) -> list[str]:
    kernel = _nest_kernel(nest)
    try:
        import boost_headers
    except ImportError:
        raise BackendError("the boost-headers package is missing (NEST's headers need "
                           "Boost); reinstall spiking-mnist, or `pip install "
                           "boost-headers`") from None
    old_abi = _OLD_ABI_SYMBOL in kernel.read_bytes()
    source = _source_dir()
    return [os.environ.get("CXX", "g++"), "-O2", "-std=c++20", "-fPIC", "-shared", "-fopenmp",
            f"-D_GLIBCXX_USE_CXX11_ABI={0 if old_abi else 1}",
            f"-I{kernel.parent / 'include' / 'nest'}", f"-I{boost_headers.get_include()}",
            f"-I{source / 'include'}",
            *[str(source / s) for s in _SOURCES], *_openmp_runtime(kernel), "-o", str(out)]


def build(nest) -> Path:
    """The module file, compiled now (~20 s) unless the cache holds it and it still has the
    sha256 recorded when it was built (:func:`unverified`); otherwise rebuilt, with a log
    line."""
    target = module_file(nest)
    with _BuildLock(target.parent):
        if target.exists():
            problem = unverified(target)
            if problem is None:
                return target
            log.warning("the cached NEST module %s is not the one built here (%s); "
                        "building it again", target, problem)
        _compile(nest, target)
    return target


def _compile(nest, target: Path) -> None:
    """Compile the module into ``target``, then record its sha256 beside it."""
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise BackendError(f"the C++ compiler {compiler!r} is not installed; it builds the "
                           "fast NEST neuron once (`apt install g++`, or set $CXX), or run "
                           "NEST's own neuron with --set simulation.cell_integration=adaptive")
    try:
        building = tempfile.TemporaryDirectory(dir=target.parent)
    except OSError as err:
        raise BackendError(f"the NEST module cannot be built in {target.parent} "
                           f"({err.strerror}); set SPIKING_MNIST_NEST_MODULE_DIR to a "
                           "directory of yours") from None
    with building as tmp:
        built = Path(tmp) / target.name
        result = subprocess.run(_compile_command(nest, built), capture_output=True, text=True)
        if result.returncode != 0:
            raise BackendError(f"building the NEST module failed:\n{result.stderr[-3000:]}\n"
                               "run NEST's own neuron with --set "
                               "simulation.cell_integration=adaptive")
        recorded = Path(tmp) / digest_file(target).name
        recorded.write_text(f"{file_sha256(built)}  {target.name}\n")
        digest_file(target).unlink(missing_ok=True)   # no record of a module being replaced
        built.replace(target)       # atomic: a reader finds a whole file or none
        recorded.replace(digest_file(target))   # last: the module is verified from now on
    log.info("built the NEST module %s", target)


def install(nest) -> None:
    """Make :data:`MODELS` available in the current NEST kernel (after every reset).

    The module is not linked to a NEST library file (that would load a second kernel when
    another environment's NEST is the one running): its NEST symbols are found in the
    running kernel, which is made visible to it first.
    """
    if MODELS[0] not in nest.node_models:
        path = build(nest)
        ctypes.CDLL(str(_nest_kernel(nest)), mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
        verbosity = nest.verbosity
        nest.verbosity = nest.VerbosityLevel.WARNING  # no "[INFO] loaded module" line
        try:
            nest.Install(str(path))
        finally:
            nest.verbosity = verbosity


class KernelConnections:
    """A fixed set of connections whose weights are read and written, all or some, in one call
    each, and whose delays are written in one call.

    Each connection is named by a row of :data:`ID_KEYS` (as NEST's connection status gives
    them). STDP synapses of D&C's input (``stdp_triplet_synapse``, the module's
    ``stdp_dc_synapse`` and ``stdp_trace_synapse``) have their weights reached in place, ~15 ns each in the kernel's
    memory order (:meth:`of_projection` lists them so); other types, and delays, through
    NEST's status dictionaries, ~1 us each, still ~5x faster than PyNEST. A
    ``stdp_dc_synapse`` or ``stdp_trace_synapse`` first applies the potentiation its postsynaptic spikes are due
    (see ``connection_access.cpp``), so what is read, written or normalised is the rule's
    weight. Needs :func:`install` first.
    """

    #: the connection status entries that name a connection, in the order the C side takes
    ID_KEYS = ("source", "target", "target_thread", "synapse_id", "port")

    def __init__(self, nest, ids: np.ndarray):
        self._lib = _library(nest)
        self.ids = np.asarray(ids, dtype=np.int64).reshape(-1, 5)
        self._ids = [np.ascontiguousarray(self.ids[:, k]) for k in range(5)]

    @classmethod
    def of_projection(cls, nest, synapse_id: int, sources: tuple[int, int],
                      targets: tuple[int, int]) -> "KernelConnections":
        """The connections of NEST synapse type ``synapse_id`` from the nodes ``sources`` onto
        ``targets`` (each (first node ID, count)), in the kernel's memory order."""
        lib = _library(nest)
        columns = [np.zeros(0, dtype=np.int64)] * 4
        found = lib.spiking_mnist_list_connections(synapse_id, *sources, *targets, 0, *columns)
        if found >= 0:
            columns = [np.zeros(found, dtype=np.int64) for _ in range(4)]
            found = lib.spiking_mnist_list_connections(synapse_id, *sources, *targets, found,
                                                       *columns)
        if found < 0:
            raise BackendError(f"the connections of NEST synapse type {synapse_id} could not "
                               "be listed")
        source, target, thread, port = columns
        return cls(nest, np.column_stack([source, target, thread,
                                          np.full(found, synapse_id), port]))

    def __len__(self) -> int:
        return len(self.ids)

    def get_weights(self, index: np.ndarray | None = None) -> np.ndarray:
        """Weights (NEST units) of the connections (rows ``index`` of the ids, or all)."""
        ids = self._chosen(index)
        out = np.empty(len(ids[0]))
        self._check(self._lib.spiking_mnist_get_weights(len(out), *ids, out), ids, "read")
        return out

    def set_weights(self, weights: np.ndarray, index: np.ndarray | None = None) -> None:
        """Write ``weights`` (NEST units) into the connections (rows ``index``, or all). In
        place means without the checks of NEST's status dictionary: an STDP synapse's
        weight must have the sign of its ``Wmax``."""
        self._set(self._lib.spiking_mnist_set_weights, weights, index)

    def columns(self, column: np.ndarray, n_columns: int) -> "KernelColumns":
        """The connections grouped in columns, for normalisation: ``column[i]`` is
        connection i's column in [0, n_columns)."""
        return KernelColumns(self, column, n_columns)

    def set_delays(self, delays: np.ndarray) -> None:
        """Write the delays (ms) of all the connections."""
        self._set(self._lib.spiking_mnist_set_delays, delays, None)

    def _set(self, function, values: np.ndarray, index) -> None:
        ids = self._chosen(index)
        values = np.ascontiguousarray(values, dtype=np.float64)
        if len(values) != len(ids[0]):
            raise ValueError(f"{len(values)} values for {len(ids[0])} connections")
        self._check(function(len(values), *ids, values), ids, "written")

    def _chosen(self, index) -> list[np.ndarray]:
        return self._ids if index is None else [column[index] for column in self._ids]

    @staticmethod
    def _check(failed: int, ids: list[np.ndarray], done: str) -> None:
        if failed:
            named = {key: int(column[failed - 1]) for key, column in
                     zip(KernelConnections.ID_KEYS, ids)}
            raise BackendError(f"NEST connection {named} could not be {done}")


class KernelColumns:
    """The connections of a :class:`KernelConnections` in columns (``column[i]``, in [0,
    n_columns), is connection i's), whose weights are normalised in place, STDP synapses
    only (:meth:`normalise`).

    Where the weights are is found at the first normalisation and kept, in the module, while
    NEST keeps the connections in place (``connection_access.cpp``): each normalisation then
    only reads and scales them, on NEST's threads.
    """

    def __init__(self, connections: KernelConnections, column: np.ndarray, n_columns: int):
        if len(column) != len(connections):
            raise ValueError(f"{len(column)} columns for {len(connections)} connections")
        self._lib, self._ids, self._n_columns = connections._lib, connections._ids, n_columns
        self._cache = self._lib.spiking_mnist_new_column_cache(
            len(column), *self._ids, np.ascontiguousarray(column, dtype=np.int64), n_columns)

    def normalise(self, column_sum: float, selected: np.ndarray | None = None) -> None:
        """Scale the weights so that each column's (NEST units) sum to ``column_sum``; only
        the columns where ``selected`` (bool, n_columns) is true, or all."""
        if selected is not None:
            selected = np.ascontiguousarray(selected, dtype=np.uint8)
            if len(selected) != self._n_columns:
                raise ValueError(f"{len(selected)} selections for {self._n_columns} columns")
        KernelConnections._check(self._lib.spiking_mnist_normalise_column_cache(
            self._cache, None if selected is None else selected.ctypes.data, column_sum),
            self._ids, "normalised in place")

    def __del__(self):
        if getattr(self, "_cache", None):
            self._lib.spiking_mnist_free_column_cache(self._cache)


class DenseInput:
    """The input synapses of a layer of fixed-step cells kept beside the cells, as a matrix
    (``dense_input.h``): ``n_inputs`` x ``n_columns`` weights and delays, static (``rule``
    None) or learning as the module's synapse ``model`` does (``stdp_dc_synapse``: D&C's
    triplet rules; ``stdp_trace_synapse``: their presynaptic-trace rules) with its
    parameters ``rule`` (NEST units), and the input spikes of the next run. Each spike then
    costs the cells a few nanoseconds instead of a NEST event through a connection per
    synapse. Needs :func:`install` first.
    """

    def __init__(self, nest, n_inputs: int, n_columns: int, rule: dict | None,
                 model: str | None = None):
        if rule is not None and model not in SYNAPSE_MODELS:   # each one's rule runs here
            raise ValueError(f"a dense layer learns as one of {SYNAPSE_MODELS}, not {model}")
        self._lib = _library(nest)
        self.shape = (n_inputs, n_columns)
        r = rule or {}
        if rule is not None and model == "stdp_trace_synapse":
            self._layer = self._lib.spiking_mnist_dense_new_trace(
                n_inputs, n_columns,
                *(float(r[k]) for k in ("tau_pre", "tau_post", "nu_pre", "nu_post", "x_tar",
                                        "mu", "beta", "Wmax")),
                bool(r["exponential"]))
        else:
            self._layer = self._lib.spiking_mnist_dense_new(
                n_inputs, n_columns, rule is not None,
                *(float(r.get(k, 1.0)) for k in ("tau_pre", "tau_post1", "tau_post2")),
                *(float(r.get(k, 0.0)) for k in ("nu_pre", "nu_post", "Wmax")),
                bool(r.get("all_to_all", False)), bool(r.get("potentiate_on_read", False)))

    def attach(self, node_ids, columns) -> None:
        """The fixed-step cells ``node_ids`` take their input from ``columns``."""
        node_ids, columns = (np.ascontiguousarray(a, dtype=np.int64) for a in (node_ids, columns))
        failed = self._lib.spiking_mnist_dense_attach(self._layer, len(node_ids), node_ids,
                                                      columns)
        if failed:
            raise BackendError(f"node {node_ids[failed - 1]} cannot take input from column "
                               f"{columns[failed - 1]}: only iaf_cond_exp_fixed_step cells of "
                               f"this process can, into one of {self.shape[1]} columns")

    def set_spikes(self, stamps: np.ndarray, inputs: np.ndarray) -> None:
        """The next run's input spikes: time stamps (steps, ascending) and their inputs."""
        stamps, inputs = (np.ascontiguousarray(a, dtype=np.int64) for a in (stamps, inputs))
        if self._lib.spiking_mnist_dense_set_spikes(self._layer, len(stamps), stamps, inputs):
            raise ValueError("input spikes must come in time order, each from an input in "
                             f"[0, {self.shape[0]})")

    def get_weights(self) -> np.ndarray:
        """Weights (NEST units), shape (n_inputs, n_columns)."""
        out = np.empty(self.shape)
        self._lib.spiking_mnist_dense_get_weights(self._layer, out)
        return out

    def set_weights(self, weights: np.ndarray) -> None:
        """Write weights (NEST units), shape (n_inputs, n_columns)."""
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        if weights.shape != self.shape:
            raise ValueError(f"weights of shape {weights.shape} for a {self.shape} layer")
        self._lib.spiking_mnist_dense_set_weights(self._layer, weights)

    def set_delays(self, steps: np.ndarray) -> None:
        """Write delays in time steps, shape (n_inputs, n_columns), each from 1 to the
        simulation's longest delay."""
        steps = np.ascontiguousarray(steps, dtype=np.int64)
        if steps.shape != self.shape or self._lib.spiking_mnist_dense_set_delays(self._layer,
                                                                                 steps):
            raise ValueError(f"give {self.shape} delays of 1 step to the simulation's "
                             "longest delay")

    def normalise(self, column_sum: float, selected: np.ndarray | None = None) -> None:
        """Scale each column (those ``selected``, or all) to sum to ``column_sum`` (NEST
        units); a column summing to 0 stays."""
        if selected is not None:
            selected = np.ascontiguousarray(selected, dtype=np.uint8)
        self._lib.spiking_mnist_dense_normalise(
            self._layer, None if selected is None else selected.ctypes.data, column_sum)

    def free(self) -> None:
        """Release the layer, once NEST no longer runs its cells."""
        if self._layer:
            self._lib.spiking_mnist_dense_free(self._layer)
            self._layer = None


def _library(nest) -> ctypes.CDLL:
    """The built module as a C library, its functions' argument types declared."""
    lib = ctypes.CDLL(str(build(nest)))   # install() loaded it: the same copy
    ids = [np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")] * 5
    values = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
    for function in (lib.spiking_mnist_get_weights, lib.spiking_mnist_set_weights,
                     lib.spiking_mnist_set_delays):
        function.restype = ctypes.c_long
        function.argtypes = [ctypes.c_long, *ids, values]
    lib.spiking_mnist_new_column_cache.restype = ctypes.c_void_p
    lib.spiking_mnist_new_column_cache.argtypes = [ctypes.c_long, *ids, ids[0], ctypes.c_long]
    lib.spiking_mnist_free_column_cache.restype = None
    lib.spiking_mnist_free_column_cache.argtypes = [ctypes.c_void_p]
    lib.spiking_mnist_normalise_column_cache.restype = ctypes.c_long
    lib.spiking_mnist_normalise_column_cache.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                         ctypes.c_double]
    lib.spiking_mnist_list_connections.restype = ctypes.c_long
    lib.spiking_mnist_list_connections.argtypes = [ctypes.c_long] * 6 + ids[:4]
    matrix = np.ctypeslib.ndpointer(np.float64, ndim=2, flags="C_CONTIGUOUS")
    longs, layer = ids[0], ctypes.c_void_p
    signatures = {
        "new": (ctypes.c_void_p, [ctypes.c_long, ctypes.c_long, ctypes.c_int]
                + [ctypes.c_double] * 6 + [ctypes.c_int] * 2),
        "new_trace": (ctypes.c_void_p, [ctypes.c_long, ctypes.c_long]
                      + [ctypes.c_double] * 8 + [ctypes.c_int]),
        "free": (None, [layer]),
        "attach": (ctypes.c_long, [layer, ctypes.c_long, longs, longs]),
        "set_spikes": (ctypes.c_long, [layer, ctypes.c_long, longs, longs]),
        "get_weights": (None, [layer, matrix]),
        "set_weights": (None, [layer, matrix]),
        "set_delays": (ctypes.c_long, [layer, np.ctypeslib.ndpointer(np.int64, ndim=2,
                                                                      flags="C_CONTIGUOUS")]),
        "normalise": (None, [layer, ctypes.c_void_p, ctypes.c_double]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, f"spiking_mnist_dense_{name}")
        function.restype, function.argtypes = restype, argtypes
    return lib
