"""What a mapping took on the SpiNNaker machine: boards, chips, cores and SDRAM.

Read from sPyNNaker's placements after ``run`` (virtual boards included). Cores of the
network are those whose machine vertex belongs to one of its populations; the others are
sPyNNaker's own (monitors and data gatherers, one or two per chip used).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Resources:
    """Machine resources of one mapping."""

    boards: int           # boards holding a core of the network
    chips: int            # chips holding a core of the network
    cores: int            # cores running the network's populations
    system_cores: int     # cores sPyNNaker adds (monitors, gatherers) on every chip in use
    sdram_bytes: int      # SDRAM claimed by the network's cores for the run mapped
    machine_boards: int   # boards of the machine allocated
    machine_chips: int    # chips of the machine allocated

    def __str__(self) -> str:
        return (f"{self.boards} board(s), {self.chips} chip(s), {self.cores} cores "
                f"(+{self.system_cores} sPyNNaker system cores), "
                f"{self.sdram_bytes / 2**20:.1f} MiB SDRAM; machine: "
                f"{self.machine_boards} board(s), {self.machine_chips} chips")

    def as_dict(self) -> dict:
        return asdict(self)


def measure(population_labels: set[str]) -> Resources:
    """Resources of the current mapping; ``population_labels`` are the network's."""
    from spynnaker.pyNN.data import SpynnakerDataView as view
    machine = view.get_machine()
    n_steps = view.get_plan_n_timestep()
    ours, system = [], 0
    for placement in view.iterate_placemements():
        app = placement.vertex.app_vertex
        if app is not None and app.label in population_labels:
            ours.append(placement)
        else:
            system += 1
    chips = {(p.x, p.y) for p in ours}
    boards = {(machine[xy].nearest_ethernet_x, machine[xy].nearest_ethernet_y) for xy in chips}
    sdram = sum(p.vertex.sdram_required.get_total_sdram(n_steps) for p in ours)
    return Resources(boards=len(boards), chips=len(chips), cores=len(ours),
                     system_cores=system, sdram_bytes=int(sdram),
                     machine_boards=len(machine.ethernet_connected_chips),
                     machine_chips=machine.n_chips)
