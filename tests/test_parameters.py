"""The parameter file and its overrides: every value documented, every mistake refused."""
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import ConfigError, load_defaults, load_parameters


def test_every_parameter_has_unit_and_meaning():
    params = load_defaults("diehl_cook")
    for section, entries in params.values().items():
        for key in entries:
            spec = params.spec(section, key)
            assert spec.unit and len(spec.meaning) > 10, f"{section}.{key}"


def test_original_constants():
    p = load_defaults("diehl_cook")
    assert (p.excitatory.tau_m, p.inhibitory.tau_m) == (100.0, 10.0)
    assert (p.exc_to_inh.weight, p.inh_to_exc.weight) == (10.4, 17.0)
    assert (p.stdp.nu_pre, p.stdp.nu_post, p.normalisation.column_sum) == (1e-4, 0.01, 78.0)
    assert (p.theta.plus, p.theta.tau) == (0.05, 1e7)
    assert p.encoding.rate_per_intensity * p.encoding.initial_intensity == 63.75


def test_overrides_from_command_line_and_file(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[network]\nn_excitatory = 400\n[excitatory]\ntau_m = 120\n")
    p = load_parameters("diehl_cook", config, ["excitatory.tau_m=90.5"])
    assert p.network.n_excitatory == 400
    assert p.excitatory.tau_m == 90.5
    assert isinstance(load_parameters("diehl_cook", config).excitatory.tau_m, float)


@pytest.mark.parametrize("override, fragment", [
    ("network.n_excitatory=0", "below its minimum"),
    ("network.n_excitatory=2.5", "whole number"),
    ("encoding.rate_per_intensity=-3", "below its minimum"),
    ("network.n_excitory=10", "did you mean 'n_excitatory'"),
    ("netwrk.n_excitatory=10", "unknown section"),
    ("stdp.nu_post=fast", "must be a number"),
    ("network.synapses=spiking", "must be one of conductance, current"),
    ("network.synapses=3", "must be one of conductance, current"),
    ("stdp.nu_post=fast!", "neither a number nor a word"),
    ("stdp.nu_post='0.1'", "must be a number"),
    ("stdp.nu_post", "section.name=value"),
    ("stdp.nu_post=nan", "finite"),
])
def test_bad_overrides(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_parameters("diehl_cook", None, [override])


def test_bad_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_parameters("diehl_cook", tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[network\nn_excitatory = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_parameters("diehl_cook", broken)
    flat = tmp_path / "flat.toml"
    flat.write_text("n_excitatory = 3")
    with pytest.raises(ConfigError, match="unknown section"):
        load_parameters("diehl_cook", flat)


@pytest.mark.parametrize("overrides, fragment", [
    (["simulation.timestep=0.3"], "whole number of time steps"),
    (["simulation.timestep=1.0", "exc_to_inh.delay=0.5"], "shorter than the time step"),
    (["input_to_exc.weight_min=0.5"], "weight_min is above"),
    (["stdp.w_max=0.2"], "above stdp.w_max"),
])
def test_impossible_combinations(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment):
        diehl_cook.validate(load_parameters("diehl_cook", None, overrides))


def test_defaults_are_valid():
    diehl_cook.validate(load_defaults("diehl_cook"))


# --- property-based: random and mutated input gets a value or a ConfigError, nothing else ---

DEFAULTS = load_defaults("diehl_cook")
NAMES = [(s, k) for s, entries in DEFAULTS.values().items() for k in entries]
ANY_VALUE = st.one_of(st.integers(-10**30, 10**30), st.floats(), st.booleans(),
                      st.text(max_size=8), st.lists(st.integers(), max_size=3),
                      st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def defaults_as_toml() -> str:
    return "".join(f"[{s}]\n" + "".join(f"{k} = {v!r}\n" for k, v in entries.items())
                   for s, entries in DEFAULTS.values().items()).replace("True", "true")


def assert_valid(params) -> None:
    """Every value of ``params`` has its default's type and lies within its bounds (or
    among its choices)."""
    for section, key in NAMES:
        spec, value = params.spec(section, key), getattr(getattr(params, section), key)
        assert type(value) is type(DEFAULTS.spec(section, key).value), (section, key, value)
        if spec.choices is not None:
            assert value in spec.choices
            continue
        assert value == value and abs(value) != float("inf")
        assert spec.min is None or value >= spec.min
        assert spec.max is None or value <= spec.max


def load_or_refuse(text: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            params = load_parameters("diehl_cook", path)
        except ConfigError:
            return None
    assert_valid(params)
    try:
        diehl_cook.validate(params)
    except ConfigError:
        pass
    return params


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_as_config_file(text):
    load_or_refuse(text)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_config_file(data):
    text = defaults_as_toml()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 5))
        text = text[:at] + data.draw(st.text(max_size=5)) + text[at + cut:]
    load_or_refuse(text)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(NAMES), ANY_VALUE, max_size=6))
def test_random_values_for_known_names(values):
    nested: dict = {}
    for (section, key), value in values.items():
        nested.setdefault(section, {})[key] = value
    try:
        params = DEFAULTS.with_values(nested, "test")
    except ConfigError:
        return
    assert_valid(params)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30),
                          st.builds(lambda name, v: f"{name[0]}.{name[1]}={v}",
                                    st.sampled_from(NAMES), st.text(max_size=8))), max_size=3))
def test_random_overrides(overrides):
    try:
        params = load_parameters("diehl_cook", None, overrides)
    except ConfigError:
        return
    assert_valid(params)
