"""The bench use-cases the CLI and the HTTP API share: measure this machine, import files, list."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rigshift.catalog.models import model_catalog
from rigshift.errors import InputError
from rigshift.estimate.runtimes import RUNTIMES
from rigshift.measure.importer import ImportDefaults, import_files
from rigshift.measure.runner import (
    CardIdentity,
    bench_card,
    find_llama_bench,
    gpu_identities,
    host_identity,
    plan_for,
)
from rigshift.measure.types import Measurement
from rigshift.measure.zero_models import BENCH_QUANTS
from rigshift.suggest import unknown_choice


def cards_to_bench(runtime: str | None, threads: int | None) -> list[CardIdentity]:
    """Each distinct (GPU model, runtime) of this machine, or the host for the CPU runtime."""
    if runtime is not None and runtime not in RUNTIMES:
        raise unknown_choice("runtime", runtime, RUNTIMES)
    if runtime in ("vllm", "transformers"):
        raise InputError(
            f"rigshift bench runs llama.cpp's llama-bench; {runtime} has no llama-bench", field="--runtime"
        )
    if runtime == "llama.cpp-cpu":
        return [host_identity(threads)]
    cards = gpu_identities(runtime)
    if not cards:
        if runtime is not None:
            raise InputError(
                f"no GPU on this machine runs {runtime}", field="--runtime", expected="llama.cpp-cpu here"
            )
        return [host_identity(threads)]
    return cards


def parse_model_choices(choices: list[str] | None) -> tuple[tuple[str, str], ...] | None:
    """'llama-3.2-1b:Q4_0' -> (catalog key, quant); None: the standard set."""
    if not choices:
        return None
    parsed = []
    for choice in choices:
        name, _, quant = choice.rpartition(":")
        if not name or quant not in BENCH_QUANTS:
            raise InputError(
                f"cannot read model choice {choice!r}",
                field="--model",
                expected="MODEL:QUANT with QUANT one of " + ", ".join(BENCH_QUANTS),
            )
        parsed.append((model_catalog().get(name).key, quant))
    return tuple(parsed)


def run_bench(
    runtime: str | None,
    progress: Callable[[str], None],
    threads: int | None = None,
    rig: str | None = None,
    source: str = "bench",
    models: tuple[tuple[str, str], ...] | None = None,
) -> list[Measurement]:
    """llama-bench on every card class of this machine; `models` replaces the standard set."""
    binary = find_llama_bench()
    results: list[Measurement] = []
    for card in cards_to_bench(runtime, threads):
        started = time.monotonic()
        plan = plan_for(card.runtime, threads)
        if models:
            plan = replace(plan, models=models)
        results += bench_card(card, binary, plan, progress, source=source, rig=rig)
        progress(f"{card.card_name} / {card.runtime}: {time.monotonic() - started:.0f} s")
    return results


def import_measurements(paths: list[Path], defaults: ImportDefaults) -> list[Measurement]:
    return import_files(paths, defaults, measured_at=time.time())
