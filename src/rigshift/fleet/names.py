"""GPU name resolution: every name a source reports goes through the GPU catalog.

A name the catalog does not know is flagged (kept, with a did-you-mean), never dropped and never
guessed to be the nearest card: a wrong guess would silently mis-size every later estimate.
The catalog is reached through one small seam, `Resolver`, so parsers can be tested with a fake.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rigshift.errors import UnknownNameError
from rigshift.fleet.model import UNRESOLVED_MODEL


@dataclass(frozen=True)
class Resolved:
    """What the catalog made of one reported name."""

    key: str  # catalog key, or UNRESOLVED_MODEL
    vram_gib: float | None  # the catalog's VRAM for the card (None when unresolved)
    suggestions: tuple[str, ...] = ()
    # A name that fits several memory sizes with none given ("RX 570": 4 or 8 GB): the sizes it
    # leaves open. The card is then the smallest of them, flagged, until the inventory says which.
    vram_variants: tuple[float, ...] = ()

    @property
    def ok(self) -> bool:
        return self.key != UNRESOLVED_MODEL


# (name, vram_gib or None) -> Resolved. The default wraps gpu_catalog().resolve.
Resolver = Callable[[str, float | None], Resolved]


@dataclass
class CatalogResolver:
    """Resolver over the real GPU catalog, caching per (name, VRAM): a farm repeats few names.

    A did-you-mean costs tens of milliseconds against the whole catalog, so only the first
    `suggest_for` distinct unknown names get one: an inventory of 200,000 made-up names is
    read in seconds, not hours, and a person reads the first few dozen suggestions anyway.
    """

    suggest_for: int = 20
    _cache: dict[tuple[str, float | None], Resolved] = field(default_factory=dict)
    _unknown: int = 0

    def __call__(self, name: str, vram_gib: float | None) -> Resolved:
        key = (name, vram_gib)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = _resolve_in_catalog(name, vram_gib, self._unknown < self.suggest_for)
            self._unknown += not hit.ok
        return hit


def _resolve_in_catalog(name: str, vram_gib: float | None, suggest: bool = True) -> Resolved:
    # Imported here, not at module top, only because the catalog loads TechPowerUp's database:
    # modules that never resolve a name (the fleet loader) should not pay for that.
    from rigshift.catalog.gpus import gpu_catalog

    catalog = gpu_catalog()
    suggestions: tuple[str, ...] = ()
    # The raw name first; then without the vendor noise some tools prepend.
    for candidate in dict.fromkeys((name.strip(), clean_reported_name(name))):
        try:
            # Never the larger card by default: an open size is decided on the smallest variant.
            spec, variants = catalog.resolve_safe(candidate, vram_gib=vram_gib, suggest=suggest)
        except UnknownNameError as error:
            suggestions = suggestions or tuple(error.suggestions)
            continue
        return Resolved(spec.key, spec.vram_gib, (), tuple(v.vram_gib for v in variants))
    if vram_gib is not None:
        # A known card with a VRAM no catalog variant has (a memory mod): keep the card; the
        # reported VRAM wins over its catalog default (Gpu.vram_gib, which the assessment uses).
        stock = _resolve_in_catalog(name, None)
        if stock.ok:
            return stock
    return Resolved(UNRESOLVED_MODEL, None, suggestions)


_NOISE = re.compile(r"\b(?:nvidia|amd|ati|advanced micro devices,? inc\.?|\[amd/ati\])\b", re.I)


def clean_reported_name(name: str) -> str:
    """Strip vendor prefixes tools add ('NVIDIA GeForce ...', 'Advanced Micro Devices, Inc. [AMD/ATI]')."""
    cleaned = _NOISE.sub(" ", name).replace("[", " ").replace("]", " ")
    return re.sub(r"\s+", " ", cleaned).strip() or name.strip()


def parse_mib_string(text: str) -> float | None:
    """'8192 MiB' / '8 GB' / '12288' (MiB) -> GiB; None when it is not a size."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B?)?\s*", str(text), re.I)
    if not match:
        return None
    value = float(match.group(1))
    unit = (match.group(2) or "MiB").upper().rstrip("B").rstrip("I")
    scale = {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1.0, "T": 1024.0}[unit]
    return round(value * scale, 3)
