"""The fastest a card could run a test: the estimator's roofline at 100% efficiency, no fixed costs.

A measured rate above that ceiling is not a fast card but a wrong row (a typo, units mixed up, a
test of another card): stored, it would pull every estimate of the card's class toward it (one
admin row of 10,000,000 tok/s for an RTX 3060 doubled the console's 8B figure). The ceiling reuses
the estimator's own speed model (`speed.decode_step_seconds`, `speed.prefill_tokens_per_s`) with
an ideal runtime: every efficiency factor 1.0 (decode reads the weights and KV cache at the card's
full catalog bandwidth; prefill multiplies at its full matrix rate), no per-layer launch cost, no
architecture prior, no power limit. Decode is bound by memory bandwidth (a step reads every
active weight once); prompt processing by the matrix rate (and by reading the weights once per
micro-batch).

A row is refused when its rate exceeds the ceiling by more than `ROOFLINE_MARGIN`: catalog
figures are rounded, boost clocks and caches beat them a little, and a quant's bytes per weight
are a model's, not the file's, so a row must be clearly impossible, not merely fast.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.estimate.memory import memory_layout
from rigshift.estimate.quants import quant_recipe
from rigshift.estimate.runtimes import PROFILES, RuntimeProfile, runtime_profile
from rigshift.estimate.speed import HOST_GBS_PER_THREAD, decode_step_seconds, prefill_tokens_per_s
from rigshift.estimate.types import GpuSlot, Hardware, Workload

# How far above the ideal roofline a measured rate may be before it is refused (see above).
ROOFLINE_MARGIN = 1.5
# The CPU runtime's ceiling: a host that streams DRAM at this rate (12-channel DDR5-6400 on one
# socket is ~614 GB/s; two sockets ~1.2 TB/s) with threads enough to use it. Generous on purpose:
# the row does not say which host it ran on.
HOST_DRAM_CEILING_GBS = 1500.0
HOST_THREADS_CEILING = 1024


def _ideal(profile: RuntimeProfile) -> RuntimeProfile:
    return replace(
        profile,
        decode_efficiency_float=1.0,
        decode_efficiency_quantized=1.0,
        per_layer_overhead_us=0.0,
        prefill_efficiency_int8=1.0,
        prefill_efficiency_fp16=1.0,
        kv_read_efficiency=1.0,
    )


@dataclass(frozen=True)
class Ceiling:
    tokens_per_s: float
    bound: str  # what limits it, for the message: "460 GB/s memory bandwidth", "host DRAM"


@dataclass(frozen=True)
class BenchTest:
    """A llama-bench test (`kind` "decode": tgN after `n_depth`; "prefill": ppN) of `model` at
    `quant` on one `spec` card under `runtime`."""

    model: ModelSpec
    spec: GpuSpec
    runtime: str
    quant: str
    kind: str
    n_prompt: int
    n_gen: int
    n_depth: int = 0


def roofline(test: BenchTest) -> Ceiling:
    """The ideal rate of `test` (module docstring)."""
    model, spec, runtime, kind = test.model, test.spec, test.runtime, test.kind
    n_prompt, n_gen, n_depth = test.n_prompt, test.n_gen, test.n_depth
    recipe = quant_recipe(test.quant)
    profile = _ideal(runtime_profile(runtime))
    cpu = runtime == "llama.cpp-cpu"
    hardware = Hardware(gpus=(GpuSlot(spec),))
    if cpu:
        # speed.host_bandwidth_gbs applies the CPU runtime's own efficiency: divide it back out.
        efficiency = PROFILES["llama.cpp-cpu"].decode_efficiency_quantized
        threads = max(HOST_THREADS_CEILING, int(HOST_DRAM_CEILING_GBS / HOST_GBS_PER_THREAD) + 1)
        hardware = replace(
            hardware, host_bandwidth_gbs=HOST_DRAM_CEILING_GBS / efficiency, host_threads=threads
        )
    depth = max(1, n_depth + n_gen // 2) if kind == "decode" else max(1, n_prompt)
    context = max(depth + n_gen + n_depth, 16)
    workload = Workload(model, quant=recipe.name, context=context, runtime=runtime, prompt_tokens=depth)
    layout = memory_layout(workload, hardware, recipe, profile, context, 1, None)
    if kind == "decode":
        seconds = decode_step_seconds(model, recipe, hardware, layout, profile, 1, depth, "f16")
        rate = 1 / seconds
    else:
        rate = prefill_tokens_per_s(model, recipe, hardware, layout, profile, depth, flash_attention=True)
    if cpu:
        bound = f"{HOST_DRAM_CEILING_GBS:g} GB/s of host DRAM"
    elif kind == "decode":
        bound = f"{spec.mem_bandwidth_gbs:g} GB/s memory bandwidth"
    else:
        bound = "matrix rate"
    return Ceiling(rate, bound)


def implausibility(test: BenchTest, tokens_per_s: float) -> str | None:
    """Why `tokens_per_s` measured in `test` cannot be right, or None when it is within the margin
    of the ceiling. Mixed tests (ppN+tgM) are not checked: calibration does not use them."""
    if test.kind not in ("decode", "prefill"):
        return None
    ceiling = roofline(test)
    if tokens_per_s <= ceiling.tokens_per_s * ROOFLINE_MARGIN:
        return None
    who = "the host CPU" if test.runtime == "llama.cpp-cpu" else test.spec.name
    return (
        f"{tokens_per_s:,.6g} tok/s is {tokens_per_s / ceiling.tokens_per_s:,.3g}× the {test.kind} roofline of "
        f"{test.model.key} {test.quant} on {who} ({ceiling.tokens_per_s:,.0f} tok/s at 100% of its {ceiling.bound}); "
        "a measurement cannot beat the hardware"
    )
