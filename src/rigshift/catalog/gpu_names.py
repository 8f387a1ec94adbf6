"""Matching the GPU names that tools print (nvidia-smi, NVML, HiveOS, rocm-smi, amdsmi) to catalog cards.

A name is reduced to a *model key*: lower-case tokens with vendor and brand words dropped, letters and
digits split apart ("GeForce RTX3060Ti" -> "rtx 3060 ti"), and any memory size taken out as the
VRAM hint ("12GB", "8 GB", "8192 MiB"). Keys are matched exactly, never fuzzily, so "Ti", "SUPER",
"XT" and "XTX" can never be dropped or added on the way: an unknown key is an error with
did-you-mean suggestions. Cards that share a key (VRAM variants) are told apart by the VRAM hint or
the measured VRAM; without either, the key's default card is chosen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.errors import Problem, UnknownNameError
from rigshift.suggest import did_you_mean

__all__ = ["GpuNameIndex", "NamedCard", "ParsedName", "parse_gpu_name"]

# Words that tools add or drop at will; they never tell two cards apart.
_NOISE = frozenset(
    {
        "nvidia", "geforce", "amd", "ati", "radeon", "tesla", "quadro", "corporation", "series",
        "graphics", "generation", "lhr", "tm", "r", "gpu", "founders", "edition",
    }
)  # fmt: skip
# Series words people often omit: "1080 Ti", "Vega 56", "A4000", "170HX".
_OPTIONAL_PREFIXES = frozenset({"gtx", "rtx", "rx", "cmp"})
_VRAM_UNITS = {"gb": 1.0, "gib": 1.0, "g": 1.0, "mb": 1 / 1024, "mib": 1 / 1024}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# A measured VRAM within this distance of a card's VRAM picks that card (NVML reports 11.76 GiB
# usable for a 12 GB card); farther off, the card is some variant the catalog does not have.
_VRAM_ABS_TOLERANCE_GIB = 0.75
_VRAM_REL_TOLERANCE = 0.15


@dataclass(frozen=True)
class ParsedName:
    key: str  # "rtx 3060 ti"
    vram_gib: float | None  # from "12GB" in the name, else None


def parse_gpu_name(name: str) -> ParsedName:
    """Reduce a printed GPU name to its model key and VRAM hint."""
    text = name.lower().replace("™", " ").replace("®", " ")
    # NVML's name for LHR boards ("NVIDIA GeForce RTX 3060 Lite Hash Rate"): the same card to us.
    text = re.sub(r"\blite\s+hash\s+rate\b", " ", text)
    text = re.sub(r"[^a-z0-9.]+", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep only decimal points
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    tokens = text.split()
    kept: list[str] = []
    vram: float | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        unit = tokens[i + 1] if i + 1 < len(tokens) else ""
        if unit in _VRAM_UNITS and _NUMBER.fullmatch(token):
            vram = float(token) * _VRAM_UNITS[unit]
            i += 2
            continue
        if token not in _NOISE:
            kept.append(token)
        i += 1
    return ParsedName(" ".join(kept), vram)


@dataclass(frozen=True)
class NamedCard:
    """One card and the names it answers to."""

    spec: GpuSpec
    names: tuple[str, ...]  # must resolve to exactly this card
    family: tuple[str, ...] = ()  # shared with VRAM variants
    default_for: tuple[str, ...] = ()  # shared names for which this card is the default


class GpuNameIndex:
    """Exact model-key lookup with VRAM disambiguation; built once, read many times."""

    def __init__(self, cards: Iterable[NamedCard]) -> None:
        cards = list(cards)
        members: dict[str, list[GpuSpec]] = {}
        defaults: dict[str, GpuSpec] = {}
        for card in cards:
            for name in (*card.names, *card.family, *card.default_for):
                bucket = members.setdefault(parse_gpu_name(name).key, [])
                if not any(spec is card.spec for spec in bucket):
                    bucket.append(card.spec)
            for name in card.default_for:
                key = parse_gpu_name(name).key
                if key in defaults and defaults[key] is not card.spec:
                    raise ValueError(f"two default GPUs for {name!r}: {defaults[key].key}, {card.spec.key}")
                defaults[key] = card.spec
        for key, bucket in members.items():
            if len(bucket) > 1 and key not in defaults:
                raise ValueError(f"GPU name {key!r} fits {[s.key for s in bucket]}: mark one default_for")
            default = defaults.get(key)
            if default is not None:  # the default leads, so ties and missing VRAM pick it
                bucket.sort(key=lambda spec: spec is not default)
        self._members = members
        self._shortcuts = _shortcuts(members)
        self._display_names = tuple(dict.fromkeys(n for card in cards for n in (*card.names, *card.family)))
        for card in cards:
            for name in card.names:
                found = self.resolve(name)
                if found is not card.spec:
                    raise ValueError(f"GPU name {name!r} of {card.spec.key} resolves to {found.key}")

    @property
    def display_names(self) -> tuple[str, ...]:
        return self._display_names

    def resolve(self, name: str, vram_gib: float | None = None, suggest: bool = True) -> GpuSpec:
        """The card `name` denotes; `vram_gib` (measured) overrides a VRAM hint in the name.
        `suggest=False` skips the did-you-mean of an unknown name (tens of ms against the catalog)."""
        alternatives = _bracketed_alternatives(name)
        if alternatives:
            return self._resolve_alternatives(name, alternatives, vram_gib, suggest)
        parsed = parse_gpu_name(name)
        candidates = self._candidates(parsed.key)
        if not candidates:
            raise self._unknown(name, suggest)
        wanted = vram_gib if vram_gib is not None else parsed.vram_gib
        if wanted is None:
            return candidates[0]
        best = min(candidates, key=lambda spec: abs(spec.vram_gib - wanted))  # first wins ties
        if abs(best.vram_gib - wanted) > max(_VRAM_ABS_TOLERANCE_GIB, _VRAM_REL_TOLERANCE * wanted):
            sizes = ", ".join(f"{s.vram_gib:g}" for s in sorted(candidates, key=lambda s: s.vram_gib))
            raise UnknownNameError(
                Problem(
                    f"no {name!r} with {wanted:g} GiB in the GPU catalog",
                    field="gpu",
                    expected=f"one of {sizes} GiB",
                    suggestions=tuple(s.name for s in candidates),
                )
            )
        return best

    def variants(self, name: str) -> tuple[GpuSpec, ...]:
        """The memory-size variants a name leaves open, smallest first: empty when the name fits
        one card or carries its own size ("RX 570 8GB"). "RX 570" -> (the 4 GB, the 8 GB card)."""
        if _bracketed_alternatives(name):
            return ()
        parsed = parse_gpu_name(name)
        if parsed.vram_gib is not None:
            return ()
        candidates = self._candidates(parsed.key)
        if len({spec.vram_gib for spec in candidates}) < 2:
            return ()
        return tuple(sorted(candidates, key=lambda spec: spec.vram_gib))

    def _candidates(self, key: str) -> Sequence[GpuSpec]:
        if key in self._members:
            return self._members[key]
        full_key = self._shortcuts.get(key)
        return self._members[full_key] if full_key else ()

    def _resolve_alternatives(
        self, name: str, alternatives: list[str], vram_gib: float | None, suggest: bool = True
    ) -> GpuSpec:
        found: dict[str, GpuSpec] = {}
        for alternative in alternatives:
            try:
                spec = self.resolve(alternative, vram_gib, suggest=False)
            except UnknownNameError:
                continue
            found.setdefault(spec.key, spec)
        if len(found) == 1:
            return next(iter(found.values()))
        raise UnknownNameError(
            Problem(
                f"{name!r} names {'several GPU models' if found else 'no GPU model in the catalog'}",
                field="gpu",
                expected="one GPU model, e.g. 'Radeon RX 6800 XT'",
                suggestions=tuple(s.name for s in found.values())
                or (did_you_mean(name, self._display_names) if suggest else ()),
            )
        )

    def _unknown(self, name: str, suggest: bool = True) -> UnknownNameError:
        return UnknownNameError(
            Problem(
                f"unknown GPU {name!r}",
                field="gpu",
                expected="a GPU model in the catalog, e.g. 'RTX 3060 12GB' or 'RX 580 8GB'",
                suggestions=did_you_mean(name, self._display_names) if suggest else (),
            )
        )


def _shortcuts(members: dict[str, list[GpuSpec]]) -> dict[str, str]:
    """Keys without their series word ("1080 ti" -> "gtx 1080 ti"), kept only where unambiguous."""
    targets: dict[str, set[str]] = {}
    for key in members:
        first, _, rest = key.partition(" ")
        if first in _OPTIONAL_PREFIXES and rest and rest not in members:
            targets.setdefault(rest, set()).add(key)
    return {short: next(iter(keys)) for short, keys in targets.items() if len(keys) == 1}


def _bracketed_alternatives(name: str) -> list[str]:
    """lspci/amdsmi style "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]" -> the names inside."""
    match = re.search(r"\[([^\]]+)\]", name)
    if not match:
        return []
    parts = [p.strip() for p in match.group(1).split("/") if p.strip()]
    if not parts:
        return []
    # Later parts drop the words before the model number: "6800 XT" means "Radeon RX 6800 XT".
    head = re.match(r"(.*?)(?=\S*\d)", parts[0])
    prefix = head.group(1) if head else ""
    return [parts[0], *(p if not p[0].isdigit() else prefix + p for p in parts[1:])]
