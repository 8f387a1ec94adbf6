"""Stored measurements -> a `Calibration` the estimator commands apply.

`calibration_from(measurements)` is pure: each row is re-estimated under its own test conditions
(model, quant, prompt/generation lengths, power limit) and the efficiency factor that reproduces
it is solved for (rigshift.estimate.calibration). `load_calibration(db_url)` reads the store:
the one function `rigshift estimate`, `assess`, `econ` and `plan` call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import model_catalog
from rigshift.errors import RigshiftError
from rigshift.estimate.calibration import (
    Calibration,
    RatioRow,
    arch_class,
    corrected_estimate,
    row_noise,
    solve_log_ratio,
)
from rigshift.estimate.types import GpuSlot, Hardware, Workload
from rigshift.fleet.model import Fleet
from rigshift.measure.types import HOST_CARD_KEY, Measurement
from rigshift.measure.validate import implausible
from rigshift.toolkit import Toolkit, default_toolkit


def _host_stand_in() -> GpuSpec:
    """Any catalog card: the CPU runtime's estimate uses the host's figures, not the GPU's."""
    return gpu_catalog().all()[0]


def conditions(m: Measurement) -> tuple[Workload, Hardware]:
    """The estimator's inputs for the test a row measured."""
    model = model_catalog().get(m.model_key)
    # tgN from depth d: the estimator's decode rate at half the generated tokens past d.
    prompt = max(1, m.n_depth + m.n_gen // 2) if m.kind == "decode" else max(1, m.n_prompt)
    context = max(prompt + m.n_gen + m.n_depth, 16)
    workload = Workload(model, quant=m.quant, context=context, runtime=m.runtime, prompt_tokens=prompt)
    spec = _host_stand_in() if m.card_key == HOST_CARD_KEY else gpu_catalog().get(m.card_key)
    hardware = Hardware(gpus=(GpuSlot(spec, power_limit_w=m.power_limit_w),))
    if m.runtime == "llama.cpp-cpu" and m.n_threads:
        hardware = replace(hardware, host_threads=m.n_threads)
    return workload, hardware


def ratio_row(m: Measurement) -> RatioRow:
    workload, hardware = conditions(m)
    kind = m.kind

    def rate_at(k: float) -> float:
        if kind == "decode":
            return corrected_estimate(workload, hardware, k, k).decode_tokens_per_s
        return corrected_estimate(workload, hardware, 1.0, k).prefill_tokens_per_s

    spec = hardware.gpus[0].spec
    return RatioRow(
        card_key=m.card_key,
        arch_class=arch_class(None if m.card_key == HOST_CARD_KEY else spec, m.runtime),
        runtime=m.runtime,
        kind=kind,
        model_key=m.model_key,
        quant=m.quant,
        log_ratio=solve_log_ratio(rate_at, m.tokens_per_s),
        noise=row_noise(m.tokens_per_s, m.stddev_tokens_per_s),
        n_prompt=m.n_prompt,
        n_gen=m.n_gen,
        n_depth=m.n_depth,
        tokens_per_s=m.tokens_per_s,
    )


def calibration_from(measurements: Iterable[Measurement]) -> Calibration:
    rows: list[RatioRow] = []
    skipped: list[str] = []
    for m in measurements:
        why = _unusable(m)
        if why:
            skipped.append(f"{m.source}: {why}")
            continue
        try:
            # Quarantined, not used: a row stored before the roofline check, or a fleet file's.
            why = implausible(m)
            if why:
                skipped.append(f"{m.source}: implausible: {why}")
                continue
            rows.append(ratio_row(m))
        except RigshiftError as error:  # a row naming a card or model the catalog lost
            skipped.append(f"{m.source}: {error}")
    return Calibration(tuple(rows), tuple(skipped))


def _unusable(m: Measurement) -> str | None:
    if m.kind == "mixed":
        return f"{m.test} mixes prompt and generation"
    if not (m.tokens_per_s > 0 and math.isfinite(m.tokens_per_s)):
        return "no positive rate"
    if m.runtime != "llama.cpp-cpu" and m.n_gpu_layers is not None and m.n_gpu_layers >= 0:
        layers = model_catalog().get(m.model_key).n_layers
        if m.n_gpu_layers < layers + 1 and m.n_gpu_layers < 99:
            return f"partial offload ({m.n_gpu_layers} of {layers + 1} layers on the GPU)"
    return None


def load_calibration(db_url: str | None = None, fleet: Fleet | None = None) -> Calibration:
    """Every stored measurement as a Calibration: the one loader `estimate`, `assess`, `econ` and
    `plan` call. The database's rows and, with `fleet`, the fleet file's `measurements:` section
    (measure/fleet_file.py), each row once. Read-only: it never creates or migrates a database (a
    server or `rigshift bench` does that); one without a measurements table, or none at all, means
    no rows."""
    return calibration_of(_database_rows(db_url), fleet)


def calibration_of(stored: Sequence[Measurement], fleet: Fleet | None = None) -> Calibration:
    """`stored` rows (a database's) and the fleet file's, each row once, as a Calibration."""
    from rigshift.measure.fleet_file import fleet_measurements, unique

    rows = list(stored) + fleet_measurements(fleet)
    return calibration_from(unique(rows)) if rows else Calibration()


def _database_rows(db_url: str | None) -> list[Measurement]:
    from rigshift.db_url import default_db_url, normalise_url, sqlite_path

    url = normalise_url(db_url or default_db_url())
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        return []  # no database yet: nothing measured, and no SQLAlchemy import to pay for
    try:
        from sqlalchemy import inspect

        from rigshift.measure.store import MeasurementStore
        from rigshift.storage.engine import connect
    except ModuleNotFoundError as error:
        from rigshift.extras import missing_extra

        raise (
            missing_extra(error, f"reading the measurements in {path or url} (or --no-measurements)") or error
        ) from None

    engine = connect(url)
    try:
        if not inspect(engine).has_table("measurements"):
            return []
        return MeasurementStore(engine).list()
    finally:
        engine.dispose()


def toolkit_for(
    db_url: str | None = None, use_measurements: bool = True, fleet: Fleet | None = None
) -> Toolkit:
    """The one toolkit `assess`, `econ` and `plan` run on: its estimates corrected by the stored
    measurements and those in the fleet file they read, or the priors alone (`--no-measurements`)."""
    if not use_measurements:
        return default_toolkit()
    return toolkit_of(_database_rows(db_url), fleet)


def toolkit_of(stored: Sequence[Measurement], fleet: Fleet | None = None) -> Toolkit:
    """The toolkit calibrated by `stored` rows and the fleet file's (a server passes its own)."""
    return default_toolkit(calibration=calibration_of(stored, fleet) or None)
