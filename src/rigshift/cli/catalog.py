"""`rigshift gpus` and `rigshift models`: list the catalogs, with filters."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Annotated, Any

import typer

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import model_catalog
from rigshift.cli.errors import handle_errors
from rigshift.suggest import normalise, unknown_choice
from rigshift.tables import Col, fitted_table, output_console


def _print_rows(
    rows: Sequence[Any],
    as_json: bool,
    columns: tuple[Col, ...],
    cells: Callable[[Any], tuple[str, ...]],
    what: str,
) -> None:
    """Catalog entries as JSON (every field) or as a table fitted to the terminal."""
    if as_json:
        typer.echo(json.dumps([asdict(row) for row in rows], indent=2))
        return
    console = output_console()
    console.print(
        fitted_table(columns, [cells(row) for row in rows], console.width, title=f"{len(rows)} {what}")
    )


def register(app: typer.Typer) -> None:
    @app.command("gpus")
    @handle_errors
    def gpus_command(
        vendor: Annotated[str | None, typer.Option(help="nvidia, amd or intel")] = None,
        name: Annotated[str | None, typer.Option(help="substring of the name")] = None,
        min_vram: Annotated[float, typer.Option(help="at least this many GiB")] = 0.0,
        mining: Annotated[bool, typer.Option("--mining-only", help="only mining SKUs (CMP, P10x)")] = False,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """The GPU catalog: VRAM, bandwidth, FP16/FP32/int8 rates, TDP, PCIe, Ethash history."""
        wanted = normalise(name) if name else None
        catalog = gpu_catalog().all()
        vendors = sorted({g.vendor for g in catalog})
        if vendor is not None and vendor.lower() not in vendors:
            raise unknown_choice("--vendor", vendor, vendors, "vendor")
        rows = [
            g
            for g in catalog
            if (vendor is None or g.vendor == vendor.lower())
            and (wanted is None or wanted in normalise(g.name))
            and g.vram_gib >= min_vram
            and (not mining or g.mining_only)
        ]
        gpu_columns = (
            Col("key"),
            Col("name", wrap=True, drop=9),
            Col("VRAM GiB", "right"),
            Col("GB/s", "right", drop=2),
            Col("FP32 TF", "right", drop=5),
            Col("FP16 TF", "right", drop=4),
            Col("int8 TOPS", "right", drop=6),
            Col("TDP W", "right", drop=3),
            Col("PCIe", drop=7),
            Col("CC/gfx", drop=8),
            Col("Ethash MH/s", "right", drop=1),
        )
        _print_rows(
            rows,
            as_json,
            gpu_columns,
            lambda g: (
                g.key,
                g.name,
                f"{g.vram_gib:g}",
                f"{g.mem_bandwidth_gbs:.0f}",
                f"{g.fp32_tflops:.2f}",
                f"{g.fp16_matrix_tflops or g.fp16_tflops:.2f}",
                f"{g.int8_tops:.0f}" if g.int8_tops else "-",
                f"{g.tdp_w:.0f}",
                f"Gen{g.pcie_gen} x{g.pcie_lanes}",
                g.compute_capability or g.gfx_target or "-",
                f"{g.ethash_mhs:g}" if g.ethash_mhs else "-",
            ),
            "GPUs",
        )

    @app.command("models")
    @handle_errors
    def models_command(
        kind: Annotated[str | None, typer.Option(help="chat or embedding")] = None,
        name: Annotated[str | None, typer.Option(help="substring of the name")] = None,
        max_params: Annotated[float | None, typer.Option(help="at most this many billion parameters")] = None,
        moe: Annotated[bool | None, typer.Option("--moe/--dense", help="only MoE / only dense")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """The model catalog: architecture numbers from each model's published config.json."""
        wanted = normalise(name) if name else None
        kinds = sorted({m.kind for m in model_catalog().all()})
        if kind is not None and kind not in kinds:
            raise unknown_choice("--kind", kind, kinds, "model kind")
        rows = [
            m
            for m in model_catalog().all()
            if (kind is None or m.kind == kind)
            and (wanted is None or wanted in normalise(m.name) or wanted in normalise(m.key))
            and (max_params is None or m.params_b <= max_params)
            and (moe is None or m.is_moe == moe)
        ]
        model_columns = (
            Col("key"),
            Col("name", wrap=True, drop=9),
            Col("kind", drop=3),
            Col("params B", "right"),
            Col("layers", "right", drop=5),
            Col("hidden", "right", drop=6),
            Col("heads/kv", "right", drop=7),
            Col("experts", "right", drop=4),
            Col("context", "right", drop=2),
        )
        _print_rows(
            rows,
            as_json,
            model_columns,
            lambda m: (
                m.key,
                m.name,
                m.kind,
                f"{m.params_b:g}",
                str(m.n_layers),
                str(m.hidden_size),
                f"{m.n_heads}/{m.n_kv_heads}",
                f"{m.n_active_experts}/{m.n_experts}" if m.is_moe else "-",
                str(m.context_length),
            ),
            "models",
        )
