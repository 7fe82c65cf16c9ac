"""Preflight: has the installed sPyNNaker a binary for every (cell, synapse) pair a network uses?

sPyNNaker runs a neuron population on *combined* cores, one binary ``<cell><synapses>.aplx``
(``IF_cond_exp_stdp_mad_pair_additive.aplx``), or on *split* cores, ``<cell>_neuron.aplx``
plus ``synapses<synapses>.aplx``, where ``<synapses>`` names the dynamics of the population's
incoming projections: "" for static ones, ``_stdp_mad_<timing>_<weight>`` for STDP. A virtual
board assumes every binary exists, so a network that maps there may have none on a real board;
this check reads the installed ``model_binaries/`` before anything is mapped.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spiking_mnist.hardware import BackendError

_SYNAPSE_FAMILIES = ("_stdp", "_structural", "_weight_change")


@dataclass(frozen=True)
class PopulationCores:
    """What one population needs: its cell binary stem (``IF_cond_exp``), the synapse suffix
    of its incoming projections, and whether those dynamics can run on combined or split
    cores."""

    label: str
    cell: str
    synapses: str
    combined_capable: bool = True
    split_capable: bool = True


def binaries_directory() -> Path:
    """The ``model_binaries/`` of the installed sPyNNaker."""
    import spynnaker.pyNN
    return Path(os.path.dirname(spynnaker.pyNN.__file__)) / "model_binaries"


def installed(directory: Path) -> set[str]:
    """Names (without ``.aplx``) of the binaries in ``directory``."""
    return {p.stem for p in Path(directory).glob("*.aplx")}


def _synapse_name(suffix: str) -> str:
    return suffix.lstrip("_") or "static synapses"


def _suffixes(binaries: set[str]) -> set[str]:
    """Every synapse suffix some binary implements."""
    found = {""} | {b[len("synapses"):] for b in binaries if b.startswith("synapses")}
    for b in binaries:
        for family in _SYNAPSE_FAMILIES:
            at = b.find(family)
            if at > 0:
                found.add(b[at:])
    return found


def runs_with(cell: str, binaries: set[str]) -> list[str]:
    """The synapse suffixes ``cell`` has binaries for, combined or split."""
    split = f"{cell}_neuron" in binaries
    return sorted(s for s in _suffixes(binaries)
                  if f"{cell}{s}" in binaries or (split and f"synapses{s}" in binaries))


def cells_with(suffix: str, binaries: set[str]) -> list[str]:
    """The cell binaries that run with synapse ``suffix``, combined or split."""
    cells = {b[:-len("_neuron")] for b in binaries if b.endswith("_neuron")}
    cells |= {b[:-len(suffix)] for b in binaries if suffix and b.endswith(suffix)
              and not b.startswith("synapses")}
    return sorted(c for c in cells if suffix in runs_with(c, binaries))


def core_kind(population: PopulationCores, binaries: set[str]) -> str | None:
    """"combined" or "split" as sPyNNaker would choose them at a 1 ms step (combined when
    its binary exists), or None if neither has its binaries."""
    p = population
    if p.combined_capable and f"{p.cell}{p.synapses}" in binaries:
        return "combined"
    if p.split_capable and {f"{p.cell}_neuron", f"synapses{p.synapses}"} <= binaries:
        return "split"
    return None


def check(populations: list[PopulationCores], directory: Path) -> dict[str, str]:
    """Each population's core kind ("combined" or "split"); :class:`BackendError` naming
    every pair without binaries and what would run instead."""
    binaries = installed(directory)
    kinds, problems = {}, []
    for p in populations:
        kind = core_kind(p, binaries)
        if kind is not None:
            kinds[p.label] = kind
            continue
        alternatives = ", ".join(_synapse_name(s) for s in runs_with(p.cell, binaries))
        cells = ", ".join(cells_with(p.synapses, binaries)) or "no cell type"
        problems.append(
            f"{p.label}: {p.cell} with {_synapse_name(p.synapses)} has no binary (neither "
            f"{p.cell}{p.synapses}.aplx nor {p.cell}_neuron.aplx with "
            f"synapses{p.synapses}.aplx); {p.cell} runs with: {alternatives or 'nothing'}; "
            f"{_synapse_name(p.synapses)} run with: {cells}")
    if problems:
        raise BackendError(f"the installed sPyNNaker ({directory}) cannot run this network: "
                           + "; ".join(problems) + ". Choose a cell and synapse pair it has "
                           "binaries for, or build the missing binaries from sPyNNaker's "
                           "C sources")
    return kinds
