"""Measurements in a fleet file: `rigshift bench --fleet FILE` writes them, fleet readers use them.

The fleet file's `measurements:` section (fleet/model.py, `FleetMeasurement`) holds the same
fields as the measurements database, so a fleet carries its measured speeds with it: `assess`,
`econ` and `plan` on that file, and `estimate --fleet FILE`, calibrate on them as on the
database's rows (measure/calibrate.py). Writing is load → append → atomic replace (files.py):
everything else in the file is kept, and a failed write leaves the old file whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from rigshift.catalog.models import model_catalog
from rigshift.fleet.model import Fleet, FleetMeasurement
from rigshift.fleet.store import load_fleet, save_fleet
from rigshift.measure.types import Measurement


def to_fleet(m: Measurement) -> FleetMeasurement:
    data = m.to_json()
    data.pop("test", None)
    data.pop("id", None)
    return FleetMeasurement.model_validate(data)


def from_fleet(m: FleetMeasurement) -> Measurement:
    """A fleet entry as a Measurement; the model by its catalog key (the file may name it by an
    alias), so an exact match makes the estimate `measured`."""
    data = m.model_dump()
    data["model_key"] = model_catalog().get(m.model_key).key
    return Measurement(**data)


def fleet_measurements(fleet: Fleet | None) -> list[Measurement]:
    return [from_fleet(m) for m in fleet.measurements] if fleet is not None else []


def unique(rows: Iterable[Measurement]) -> list[Measurement]:
    """Rows once each (`Measurement.identity`): a bench stored in both the database and the fleet
    file, or a file imported twice, counts once."""
    return list({m.identity(): m for m in rows}.values())


def rig_named(fleet: Fleet, hostname: str) -> str | None:
    """The fleet's rig this host is (by its hostname, or a rig named like it), if any."""
    host = hostname.lower().split(".")[0]
    for rig in fleet.rigs:
        if host in {(rig.hostname or "").lower().split(".")[0], rig.name.lower()}:
            return rig.name
    return None


def add_to_fleet_file(path: str | os.PathLike[str], rows: Sequence[Measurement]) -> int:
    """Append `rows` to the fleet file's measurements (those not already there); returns how many
    were added. Raises InputError (nothing written) if the file is not a valid fleet file."""
    fleet = load_fleet(Path(path))
    have = {from_fleet(m).identity() for m in fleet.measurements}
    new = [m for m in unique(rows) if m.identity() not in have]
    if new:
        fleet.measurements.extend(to_fleet(m) for m in new)
        save_fleet(fleet, path)
    return len(new)
