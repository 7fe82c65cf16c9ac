"""Parameters as data: a TOML file of values with units and meanings, plus validated overrides.

A parameter file holds sections of entries ``name = {value, unit, meaning[, min, max]}``.
Users override values with a TOML file of plain values or ``section.name=value`` strings;
anything unknown, of the wrong type or out of range raises :class:`ConfigError`.
"""
from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping


class ConfigError(ValueError):
    """A configuration value or file the user must correct."""


@dataclass(frozen=True)
class Parameter:
    """One value with its unit ("1" for dimensionless), one-line meaning and inclusive bounds;
    a word value (unit "choice") is one of ``choices``."""

    value: int | float | str
    unit: str
    meaning: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None


class Section:
    """Attribute access to the values of one section, e.g. ``params.excitatory.tau_m``."""

    def __init__(self, name: str, entries: Mapping[str, Parameter]):
        self._name = name
        self._entries = dict(entries)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._entries[key].value
        except KeyError:
            raise AttributeError(f"no parameter {self._name}.{key}") from None

    def __iter__(self):
        return iter(self._entries.items())


class Parameters:
    """A validated, immutable set of parameter sections."""

    def __init__(self, name: str, sections: Mapping[str, Mapping[str, Parameter]]):
        self.name = name
        self._sections = {s: dict(entries) for s, entries in sections.items()}

    def __getattr__(self, section: str) -> Section:
        try:
            return Section(section, self._sections[section])
        except KeyError:
            raise AttributeError(f"no parameter section {section!r}") from None

    def spec(self, section: str, key: str) -> Parameter:
        return self._sections[section][key]

    def section_names(self) -> tuple[str, ...]:
        return tuple(self._sections)

    def with_sections(self, name: str, sections: Mapping[str, Mapping[str, Parameter]]
                      ) -> "Parameters":
        """These parameters and ``sections`` (new ones) under the name ``name``."""
        return Parameters(name, {**self._sections, **sections})

    def values(self) -> dict[str, dict[str, int | float]]:
        """Plain nested values, as stored in checkpoints and manifests."""
        return {s: {k: p.value for k, p in entries.items()} for s, entries in self._sections.items()}

    def table(self) -> str:
        """A human-readable listing: section.name = value unit  # meaning."""
        lines = []
        for s, entries in self._sections.items():
            for k, p in entries.items():
                lines.append(f"{s}.{k} = {p.value} {p.unit if p.unit != '1' else ''}".rstrip()
                             + f"  # {p.meaning}")
        return "\n".join(lines)

    def with_values(self, values: Mapping[str, Mapping[str, Any]], source: str) -> "Parameters":
        """A copy with ``values`` (section -> name -> value) applied and checked."""
        sections = {s: dict(entries) for s, entries in self._sections.items()}
        for section, entries in values.items():
            if section not in sections:
                raise ConfigError(f"{source}: unknown section [{section}]"
                                  + _suggest(section, sections))
            if not isinstance(entries, Mapping):
                raise ConfigError(f"{source}: [{section}] must be a table of name = value")
            for key, raw in entries.items():
                if key not in sections[section]:
                    raise ConfigError(f"{source}: unknown parameter {section}.{key}"
                                      + _suggest(key, sections[section]))
                spec = sections[section][key]
                sections[section][key] = Parameter(
                    _checked(raw, spec, f"{source}: {section}.{key}"),
                    spec.unit, spec.meaning, spec.min, spec.max, spec.choices)
        return Parameters(self.name, sections)

    def with_overrides(self, overrides: Iterable[str]) -> "Parameters":
        """Apply ``section.name=value`` strings (values parsed as TOML: 3, 2.5, true; a bare
        word is a word)."""
        values: dict[str, dict[str, Any]] = {}
        for text in overrides:
            path, sep, raw = text.partition("=")
            section, dot, key = path.strip().partition(".")
            if not sep or not dot or not key:
                raise ConfigError(f"--set {text!r}: write section.name=value, "
                                  "e.g. --set network.n_excitatory=400")
            try:
                value = tomllib.loads(f"v = {raw.strip()}")["v"]
            except tomllib.TOMLDecodeError:
                if not raw.strip().isidentifier():
                    raise ConfigError(f"--set {text!r}: {raw.strip()!r} is neither a number "
                                      "nor a word") from None
                value = raw.strip()
            values.setdefault(section, {})[key] = value
        return self.with_values(values, "--set")


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(choices)})"


def _checked(raw: Any, spec: Parameter, where: str) -> int | float | str:
    if spec.choices is not None:
        if raw not in spec.choices:
            raise ConfigError(f"{where} must be one of {', '.join(spec.choices)}, got {raw!r} "
                              f"({spec.meaning})")
        return raw
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ConfigError(f"{where} must be a number in {spec.unit}, got {raw!r}")
    if isinstance(spec.value, int) and not isinstance(spec.value, bool):
        if isinstance(raw, float) and not raw.is_integer():
            raise ConfigError(f"{where} must be a whole number, got {raw!r}")
        value: int | float = int(raw)
    else:
        value = float(raw)
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{where} must be finite, got {raw!r}")
    if spec.min is not None and value < spec.min:
        raise ConfigError(f"{where} = {value} is below its minimum {spec.min} ({spec.meaning})")
    if spec.max is not None and value > spec.max:
        raise ConfigError(f"{where} = {value} is above its maximum {spec.max} ({spec.meaning})")
    return value


def _parse_spec(section: str, key: str, entry: Any, source: str) -> Parameter:
    if not isinstance(entry, Mapping) or not {"value", "unit", "meaning"} <= set(entry):
        raise ConfigError(f"{source}: {section}.{key} needs value, unit and meaning")
    choices = entry.get("choices")
    return Parameter(entry["value"], entry["unit"], entry["meaning"],
                     entry.get("min"), entry.get("max"),
                     None if choices is None else tuple(choices))


def parse_parameter_file(text: str, source: str) -> dict[str, dict[str, Parameter]]:
    """The sections of a parameter file (entries ``name = {value, unit, meaning[, min, max,
    choices]}``); ``source`` names it in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source} is not valid TOML: {err}") from None
    for section, entries in data.items():
        if not isinstance(entries, Mapping):
            raise ConfigError(f"{source}: {section} must be a [section] of entries")
    return {s: {k: _parse_spec(s, k, e, source) for k, e in entries.items()}
            for s, entries in data.items()}


def load_defaults(model: str) -> Parameters:
    """The packaged parameter file of ``model`` (e.g. "diehl_cook")."""
    text = resources.files("spiking_mnist.models").joinpath(f"{model}.toml").read_text()
    return Parameters(model, parse_parameter_file(text, f"{model}.toml"))


def variants() -> dict[str, Path]:
    """The parameter variants shipped with the package: name -> TOML file (``spinnaker``:
    the D&C network within what a SpiNNaker board runs)."""
    folder = Path(__file__).parent / "variants"
    return {path.stem: path for path in sorted(folder.glob("*.toml"))}


def load_parameters(model: str, config_file: str | Path | None = None,
                    overrides: Iterable[str] = (), base: Parameters | None = None) -> Parameters:
    """Defaults of ``model`` (or ``base``, e.g. a started run's values), then a user TOML file
    of plain values, then ``--set`` strings.

    ``config_file`` may also name a variant shipped with the package (``spinnaker``: see
    :func:`variants`)."""
    params = load_defaults(model) if base is None else base
    if config_file is not None:
        path = Path(config_file)
        if not path.exists() and str(config_file) in variants():
            path = variants()[str(config_file)]
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
        params = params.with_values(data, str(path))
    return params.with_overrides(overrides)
