"""`rigshift estimate`: memory, speed and fit of one model on one GPU (or a group of GPUs)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from rigshift import units
from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import load_model
from rigshift.cli.errors import handle_errors
from rigshift.cli.options import DbOption, NoMeasurementsOption
from rigshift.errors import InputError, Problem, UnknownNameError
from rigshift.estimate import Estimate, GpuSlot, Hardware, PcieLink, Workload
from rigshift.estimate.calibration import Calibration
from rigshift.estimate.quants import KV_TYPE_BYTES
from rigshift.estimate.runtimes import RUNTIMES
from rigshift.estimate.types import DEFAULT_HOST_BANDWIDTH_GBS, DEFAULT_HOST_THREADS
from rigshift.measure.calibrate import load_calibration
from rigshift.suggest import unknown_choice
from rigshift.tables import output_console

_VRAM_SUFFIX = re.compile(r"\s*(\d+(?:\.\d+)?)\s*G(?:i?B)?\s*$", re.IGNORECASE)


def parse_link(text: str, default_gen: int = 3) -> PcieLink:
    """'gen1x1', '3x16', 'Gen3 x4', 'PCIe 3.0 x16', or 'x1' (at `default_gen`, the card's own)."""
    try:
        gen, lanes = units.parse_link(text)
    except ValueError:
        raise InputError(
            Problem(f"cannot read PCIe link {text!r}", field="--pcie", expected=units.LINK_EXAMPLES)
        ) from None
    return PcieLink(gen or default_gen, lanes)


def parse_tokens_option(text: str, field: str) -> int:
    try:
        tokens = units.parse_tokens(text)
    except ValueError:
        tokens = 0
    if tokens < 1:
        raise InputError(Problem(f"cannot read {text!r}", field=field, expected=units.TOKEN_EXAMPLES))
    return tokens


def resolve_gpu_arg(text: str, vram_override: float | None = None) -> GpuSlot:
    """A GPU name as tools print it, with an optional VRAM suffix: 'RX 580 8GB', 'Tesla P40'.

    `vram_override` (--vram) picks the catalog's variant with that VRAM (a P104-100 flashed to
    8 GB); where the catalog has none (a memory-modded card), the named card with its VRAM
    replaced, as a HiveOS-reported `mem` replaces it in a fleet."""
    match = _VRAM_SUFFIX.search(text)
    vram = float(match.group(1)) if match else None
    name = text[: match.start()] if match and match.start() > 0 else text
    if vram_override is None:
        # A name that leaves the size open is decided on its smallest variant, as inventories are.
        return GpuSlot(gpu_catalog().resolve_safe(name.strip(), vram_gib=vram)[0])
    if vram_override <= 0:
        raise InputError(Problem(f"--vram must be > 0 GiB, got {vram_override:g}", field="vram"))
    try:
        return GpuSlot(gpu_catalog().resolve(name.strip(), vram_gib=vram_override))
    except UnknownNameError:
        spec = gpu_catalog().resolve(name.strip(), vram_gib=vram)
        return GpuSlot(replace(spec, vram_gib=vram_override))


def _ambiguity_note(text: str, vram_override: float | None, slot: GpuSlot) -> tuple[str, list[float]]:
    """A name that fits several memory sizes ("GTX 1060": 3 or 6 GB) is never decided silently:
    the note the estimate carries, and the sizes (empty when the name or --vram gives one). The
    card estimated is the smaller (`resolve_gpu_arg`) until the user names the variant."""
    if vram_override is not None or _VRAM_SUFFIX.search(text):
        return "", []
    variants = gpu_catalog().variants(text.strip())
    if not variants:
        return "", []
    sizes = " or ".join(f"{v.vram_gib:g}" for v in variants)
    note = (
        f"ambiguous GPU name {text.strip()!r}: {sizes} GiB; estimated as the {slot.spec.vram_gib:g} GiB "
        f"card (the smaller) until you name the variant: '{text.strip()} {variants[-1].vram_gib:g}GB' "
        "or --vram"
    )
    return note, [v.vram_gib for v in variants]


def _parse_gpu_layers(text: str | None) -> int | Literal["auto"] | None:
    if text is None:
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InputError(
            Problem(
                f"cannot read --gpu-layers {text!r}", field="gpu_layers", expected="a number >= 0 or 'auto'"
            )
        )
    return value


def _check_choice(value: str, allowed: tuple[str, ...] | list[str], field: str) -> None:
    if value not in allowed:
        raise unknown_choice(field, value, allowed)


def render_table(result: Estimate, title: str, console: Console) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    verdict = "[green]fits[/]" if result.fits else "[red]does not fit[/]"
    table.add_row("verdict", f"{verdict}: {result.reason}")
    table.add_row("runtime", result.runtime)
    mem = result.memory
    table.add_row(
        "memory (GiB)",
        f"weights {mem.weights:.2f} + KV {mem.kv_cache:.2f} + compute {mem.compute:.2f} "
        f"+ overhead {mem.overhead:.2f} = {mem.total:.2f}",
    )
    table.add_row(
        "per GPU (GiB)",
        ", ".join(f"{need:.2f} of {cap:.2f}" for need, cap in zip(mem.per_gpu, mem.capacity, strict=True)),
    )
    table.add_row("host RAM (GiB)", f"{mem.host_ram:.2f}")
    if result.cpu_layers:
        table.add_row(
            "offload", f"{result.gpu_layers} layers on the GPUs, {result.cpu_layers} on the host CPU"
        )
    prov = result.provenance
    table.add_row(
        "decode",
        f"{result.decode_tokens_per_s:.1f} tok/s ({prov.label()}; {prov.interval[0]:.1f}-{prov.interval[1]:.1f}) "
        f"one stream, {result.decode_tokens_per_s_total:.1f} tok/s all streams",
    )
    table.add_row("prompt processing", f"{result.prefill_tokens_per_s:.0f} tok/s ({prov.prefill})")
    table.add_row("time to first token", f"{result.ttft_s * 1000:.0f} ms")
    table.add_row("max context", f"{result.max_context} tokens per sequence")
    table.add_row("max parallel", f"{result.max_parallel} sequences at this context")
    table.add_row(
        "load time",
        f"{result.load_seconds:.1f} s (disk {result.load_seconds_disk:.1f} s, PCIe {result.load_seconds_link:.1f} s)",
    )
    if result.split_ms_per_token:
        table.add_row("split cost", f"{result.split_ms_per_token:.2f} ms per token moving activations")
    table.add_row("bottleneck", result.bottleneck)
    for note in result.notes:
        table.add_row("note", note)
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command("estimate")
    @handle_errors
    def estimate_command(
        gpu: Annotated[
            str, typer.Option(help='GPU as tools print it, optional VRAM: "RTX 3060 12GB", "RX 580 8GB"')
        ],
        model: Annotated[str, typer.Option(help="catalog name, or a path to a .gguf file or a config.json")],
        quant: Annotated[
            str, typer.Option(help="Q2_K..Q8_0, IQ*, F16, BF16, GPTQ-Int4/Int8, AWQ, FP8")
        ] = "Q4_K_M",
        context: Annotated[str, typer.Option(help="tokens per sequence: 8192, 8k, 32k")] = "8192",
        parallel: Annotated[int, typer.Option(help="sequences served together")] = 1,
        gpus: Annotated[int, typer.Option(help="how many of this GPU the model is split across")] = 1,
        runtime: Annotated[str | None, typer.Option(help=" | ".join(RUNTIMES))] = None,
        kv_type: Annotated[str, typer.Option(help="KV-cache type: f16, q8_0, q4_0")] = "f16",
        pcie: Annotated[
            str | None, typer.Option(help='the link the GPU really has: gen1x1, "PCIe 3.0 x16", x1')
        ] = None,
        split: Annotated[str, typer.Option(help="layer (llama.cpp) or tensor (vLLM)")] = "layer",
        tensor_split: Annotated[str | None, typer.Option(help="llama.cpp ratios, e.g. 3,1")] = None,
        prompt: Annotated[str, typer.Option(help="prompt tokens for time to first token: 512, 2k")] = "512",
        disk_gbs: Annotated[float, typer.Option(help="disk read speed, GB/s")] = 0.5,
        vram: Annotated[
            float | None, typer.Option(help="the card's real VRAM, GiB (a flashed or modded card)")
        ] = None,
        gpu_layers: Annotated[
            str | None, typer.Option(help="layers offloaded to the GPUs (llama.cpp -ngl): N or auto")
        ] = None,
        host_ram: Annotated[
            float | None, typer.Option(help="host RAM, GiB (checked by the CPU runtime)")
        ] = None,
        host_bandwidth: Annotated[
            float, typer.Option(help="host RAM bandwidth, GB/s, for layers left on the CPU")
        ] = DEFAULT_HOST_BANDWIDTH_GBS,
        host_threads: Annotated[int, typer.Option(help="CPU threads llama.cpp uses")] = DEFAULT_HOST_THREADS,
        as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
        no_measurements: NoMeasurementsOption = False,
        db: DbOption = None,
        fleet: Annotated[
            Path | None,
            typer.Option(
                "--fleet", help="also use the measurements in this fleet file (`rigshift bench --fleet`)"
            ),
        ] = None,
    ) -> None:
        """Memory, speed and fit of MODEL on GPU: weights, KV cache, tokens/s, max context, load
        time, and where each speed comes from (measured, calibrated by stored measurements, prior)."""
        if runtime is not None:
            _check_choice(runtime, RUNTIMES, "runtime")
        _check_choice(kv_type.lower(), tuple(KV_TYPE_BYTES), "kv_type")
        _check_choice(split, ("layer", "tensor"), "split")
        if gpus < 1 or gpus > 64:
            raise InputError(Problem(f"--gpus must be 1..64, got {gpus}", field="gpus"))
        context_tokens = parse_tokens_option(context, "--context")
        prompt_tokens = parse_tokens_option(prompt, "--prompt")
        slot = resolve_gpu_arg(gpu, vram)
        ambiguity, variants = _ambiguity_note(gpu, vram, slot)
        layers = _parse_gpu_layers(gpu_layers)
        if pcie:
            slot = GpuSlot(slot.spec, parse_link(pcie, default_gen=slot.spec.pcie_gen))
        ratios = None
        if tensor_split:
            try:
                ratios = tuple(float(x) for x in tensor_split.split(","))
            except ValueError:
                raise InputError(
                    Problem(
                        f"cannot read {tensor_split!r}", field="tensor_split", expected="numbers, e.g. 3,1"
                    )
                ) from None
        spec = load_model(model)
        weights_bytes = None
        path = Path(model)
        if path.suffix == ".gguf" and path.is_file():
            from rigshift.catalog.model_files import read_gguf

            weights_bytes = read_gguf(path).tensor_bytes
        workload = Workload(
            spec,
            quant=quant,
            context=context_tokens,
            parallel=parallel,
            kv_type=kv_type.lower(),
            runtime=runtime,
            prompt_tokens=prompt_tokens,
            weights_bytes=weights_bytes,
            gpu_layers=layers,
        )
        hardware = Hardware(
            gpus=tuple(slot for _ in range(gpus)),
            tensor_split=ratios,
            split_mode="tensor" if split == "tensor" else "layer",
            disk_read_gbs=disk_gbs,
            host_ram_gib=host_ram,
            host_bandwidth_gbs=host_bandwidth,
            host_threads=host_threads,
        )
        if no_measurements:
            calibration = Calibration()
        else:
            from rigshift.fleet.store import load_fleet

            calibration = load_calibration(db, load_fleet(fleet) if fleet is not None else None)
        result = calibration.apply(workload, hardware)
        if ambiguity:
            result = replace(result, notes=(ambiguity, *result.notes))
        if as_json:
            payload = {
                "gpu": slot.spec.name,
                "gpu_key": slot.spec.key,
                "gpus": gpus,
                "model": spec.key,
                "quant": quant,
                "context": context_tokens,
                "parallel": parallel,
                "kv_type": kv_type.lower(),
                "vram_gib": slot.spec.vram_gib,
                "vram_variants_gib": variants,  # the sizes an ambiguous name left open
                **result.to_json(),
            }
            typer.echo(json.dumps(payload, indent=2))
        else:
            title = f"{spec.name} {quant} · ctx {context_tokens} × {parallel} on {gpus} × {slot.spec.name}"
            render_table(result, title, output_console())
