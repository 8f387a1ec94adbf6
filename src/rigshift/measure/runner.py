"""`rigshift bench`: run llama.cpp's own llama-bench on this machine's card classes.

For each distinct (card, runtime) it benchmarks a small standard set of zero-weight models of
catalog shapes in llama.cpp's quant mixes (zero_models.py: no download), reads llama-bench's
`-o jsonl` output as each test finishes (progress on stderr), and returns `Measurement`s with the
card's identity, driver, runtime build, power limit and PCIe link. Memory used is the peak
resident set of the llama-bench process on the CPU runtime (one process per model, so the peak
is that model's), and is left empty on GPU runtimes where no sampler is available.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rigshift.catalog.models import model_catalog
from rigshift.errors import BackendError, EnvironmentProblem, InputError
from rigshift.measure.formats import LogFacts, parse_bench_text
from rigshift.measure.importer import ImportDefaults, to_measurement
from rigshift.measure.types import HOST_CARD_KEY, Measurement
from rigshift.measure.zero_models import write_zero_model, zero_model_path

LLAMA_BENCH_ENV = "RIGSHIFT_LLAMA_BENCH"
DEFAULT_VERSION = "0.3.36"  # scripts/build-llama-server's llama-cpp-python version


@dataclass(frozen=True)
class BenchPlan:
    """What one card class is benchmarked with. The CPU set is small enough for 2 cores."""

    models: tuple[tuple[str, str], ...]  # (catalog model key, quant)
    n_prompt: int
    n_gen: int
    repetitions: int
    n_gpu_layers: int = 99
    threads: int | None = None  # None: llama-bench's default (all cores)


# The CPU runtime on a 2-core host: one Llama 3.2 1B shape in the three quant families (legacy,
# K-quant, 8-bit), pp64 and tg32 instead of pp512/tg128 so it ends in well under 2 minutes.
CPU_PLAN = BenchPlan(
    (("llama-3.2-1b", "Q4_0"), ("llama-3.2-1b", "Q4_K_M"), ("llama-3.2-1b", "Q8_0")),
    64,
    32,
    3,
    n_gpu_layers=0,
)
# GPU runtimes: Llama 3.1 8B in the same three mixes, llama-bench's own pp512 and tg128.
GPU_PLAN = BenchPlan(
    (("llama-3.1-8b", "Q4_0"), ("llama-3.1-8b", "Q4_K_M"), ("llama-3.1-8b", "Q8_0")), 512, 128, 3
)


def plan_for(runtime: str, threads: int | None = None) -> BenchPlan:
    return replace(CPU_PLAN if runtime == "llama.cpp-cpu" else GPU_PLAN, threads=threads)


def find_llama_bench() -> Path:
    """$RIGSHIFT_LLAMA_BENCH, else next to $RIGSHIFT_LLAMA_SERVER, else the build cache."""
    candidates = []
    if os.environ.get(LLAMA_BENCH_ENV):
        candidates.append(Path(os.environ[LLAMA_BENCH_ENV]))
    if os.environ.get("RIGSHIFT_LLAMA_SERVER"):
        candidates.append(Path(os.environ["RIGSHIFT_LLAMA_SERVER"]).with_name("llama-bench"))
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rigshift" / "llama.cpp"
    candidates.append(cache / DEFAULT_VERSION / "bin" / "llama-bench")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise EnvironmentProblem(
        "llama-bench not found: run scripts/setup (or scripts/build-llama-bench) once; it builds "
        f"next to llama-server. Or set {LLAMA_BENCH_ENV}"
    )


def model_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rigshift" / "bench-models"


@dataclass(frozen=True)
class CardIdentity:
    """Who a measurement is attributed to."""

    card_key: str
    card_name: str
    runtime: str
    vram_gib: float | None = None
    card_uuid: str | None = None
    driver: str | None = None
    power_limit_w: float | None = None
    pcie_link: str | None = None
    device_index: int | None = None  # which GPU llama-bench is pinned to

    def attribution(self) -> dict[str, Any]:
        """The measurement fields this card fills (the runtime stays the run's own)."""
        fields = asdict(self)
        del fields["runtime"], fields["device_index"]
        return fields


def host_identity(threads: int | None = None) -> CardIdentity:
    from rigshift.fleet.sources.probe import cpu_model_name

    named = cpu_model_name()
    name = named if named is not None else platform.processor() or "host CPU"
    used = threads or os.cpu_count()
    return CardIdentity(
        HOST_CARD_KEY, f"{name} ({used} threads)", "llama.cpp-cpu", driver=f"Linux {platform.release()}"
    )


def gpu_identities(runtime: str | None) -> list[CardIdentity]:
    """One identity per distinct GPU model of this machine (the first card of each), from the
    fleet probe (NVML, amdsmi); none on a machine without GPUs."""
    from rigshift.catalog.gpus import gpu_catalog
    from rigshift.errors import EnvironmentProblem as NoGpu
    from rigshift.estimate.runtimes import default_runtime, runtime_support
    from rigshift.fleet.names import CatalogResolver
    from rigshift.fleet.sources.probe import probe_machine

    try:
        rig = probe_machine(CatalogResolver()).fleet.rigs[0]
    except NoGpu:
        return []
    seen: dict[tuple[str, str], CardIdentity] = {}
    for gpu in rig.gpus:
        if not gpu.resolved:
            continue
        spec = gpu_catalog().get(gpu.model)
        chosen = runtime or default_runtime(spec)
        if chosen == "llama.cpp-cpu" or not runtime_support(spec, chosen)[0]:
            continue
        key = (spec.key, chosen)
        if key in seen:
            continue
        link = f"Gen{gpu.pcie.gen} x{gpu.pcie.width}" if gpu.pcie else None
        seen[key] = CardIdentity(
            spec.key,
            gpu.reported_name or spec.name,
            chosen,
            vram_gib=gpu.vram_gib,
            card_uuid=gpu.uuid or gpu.serial,
            driver=gpu.labels.get("driver"),
            power_limit_w=gpu.power.current if gpu.power else None,
            pcie_link=link,
            device_index=gpu.index,
        )
    return list(seen.values())


def runtime_build(binary: Path) -> str:
    """llama.cpp's build id; the sdist build reports "unknown (0)", so name its cache version."""
    version = binary.parent.parent.name
    return f"llama.cpp from llama-cpp-python {version}" if version[:1].isdigit() else str(binary)


Progress = Callable[[str], None]


def bench_card(
    card: CardIdentity,
    binary: Path,
    plan: BenchPlan,
    progress: Progress,
    cache_dir: Path | None = None,
    source: str = "bench",
    rig: str | None = None,
    now: Callable[[], float] = time.time,
) -> list[Measurement]:
    """Every (model, test) of `plan` on one card, by one llama-bench process per model."""
    cache_dir = cache_dir or model_cache_dir()
    results: list[Measurement] = []
    build = runtime_build(binary)
    for index, (model_key, quant) in enumerate(plan.models, start=1):
        spec = model_catalog().get(model_key)
        path = zero_model_path(cache_dir, spec, quant)
        if not path.is_file():
            progress(f"[{index}/{len(plan.models)}] writing zero-weight {model_key} {quant} GGUF")
            write_zero_model(path, spec, quant)
        progress(f"[{index}/{len(plan.models)}] llama-bench {model_key} {quant} on {card.card_name}")
        rows, peak_gib = _run_llama_bench(binary, path, card, plan, progress)
        for record in rows:
            m = to_measurement(
                record,
                LogFacts(),
                ImportDefaults(model=model_key, quant=quant, runtime=card.runtime),
                source,
                now(),
            )
            results.append(
                replace(m, **card.attribution(), runtime_build=build, gpu_memory_used_gib=peak_gib, rig=rig)
            )
    return results


def _run_llama_bench(
    binary: Path, model: Path, card: CardIdentity, plan: BenchPlan, progress: Progress
) -> tuple[list, float | None]:
    argv = [
        str(binary),
        "-m", str(model),
        "-p", str(plan.n_prompt),
        "-n", str(plan.n_gen),
        "-r", str(plan.repetitions),
        "-ngl", str(plan.n_gpu_layers),
        "-o", "jsonl",
    ]  # fmt: skip
    if plan.threads:
        argv += ["-t", str(plan.threads)]
    env = dict(os.environ)
    if card.device_index is not None and card.runtime == "llama.cpp-cuda":
        env["CUDA_VISIBLE_DEVICES"] = str(card.device_index)
    if card.device_index is not None and card.runtime == "llama.cpp-vulkan":
        env["GGML_VK_VISIBLE_DEVICES"] = str(card.device_index)
    if card.device_index is not None and card.runtime == "llama.cpp-rocm":
        env["HIP_VISIBLE_DEVICES"] = str(card.device_index)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    except OSError as error:
        raise EnvironmentProblem(f"cannot run {binary}: {error}") from None
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    for line in proc.stdout:  # jsonl: one line per finished test
        lines.append(line)
        records, _ = parse_bench_text(line, str(binary))
        for r in records:
            each = f" (each: {', '.join(f'{v:.2f}' for v in r.samples_ts)})" if r.samples_ts else ""
            progress(f"    {r.test}: {r.avg_ts:.2f} ± {r.stddev_ts:.2f} tok/s{each}")
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-5:])
        raise BackendError(f"llama-bench exited with {proc.returncode}: {tail}")
    text = "".join(lines)
    if not text.strip():
        raise BackendError("llama-bench printed no results")
    try:
        records, _ = parse_bench_text(text, str(binary))
    except InputError as error:
        raise BackendError(f"unreadable llama-bench output: {error}") from None
    # ru_maxrss is KiB on Linux: the peak of this llama-bench process (the model's host memory).
    peak = usage.ru_maxrss / 1024**2 if card.runtime == "llama.cpp-cpu" else None
    return records, peak
