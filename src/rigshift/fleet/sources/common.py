"""What every inventory source shares: the parse result, field converters, entry -> Gpu/Rig.

Parsers never stop at the first bad value: each problem is recorded with where it is (file and
line, or JSON path), which field, and what was expected, and the entry it belongs to is left out
of the partial fleet. The importer then refuses the whole input, or (with --skip-invalid) keeps
the good entries and lists what it skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from rigshift.errors import Problem
from rigshift.fleet.model import Fleet, Gpu, PcieState, PowerLimits, Rig, Site
from rigshift.fleet.names import Resolver
from rigshift.readers.limits import LIMITS
from rigshift.readers.validation import problems_from_validation
from rigshift.suggest import did_you_mean
from rigshift.units import parse_link

SourceKind = Literal["file", "hiveos", "minerstat", "probe"]


@dataclass
class Parsed:
    """One source read: the entries that were valid, and everything wrong with the rest."""

    kind: SourceKind
    source: str
    fleet: Fleet
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "rig-07 (line 12)": what was left out

    @property
    def unresolved(self) -> list[tuple[Rig, Gpu]]:
        return [(rig, gpu) for rig, gpu in self.fleet.gpus() if not gpu.resolved]

    def skip(self, what: str, problems: EntryProblems) -> None:
        """Leave the entry `what` out, keeping what was wrong with it."""
        self.problems.extend(problems.problems)
        self.skipped.append(what)


class EntryProblems:
    """Problems of one entry (a CSV row, a YAML rig, a HiveOS worker), located as they are found."""

    def __init__(self, source: str, locate: Callable[[str | None], str | None]):
        self.source = source
        self.locate = locate  # field -> "line 12" / "$.data[3].gpu_info[0].model"
        self.problems: list[Problem] = []

    def add(
        self, message: str, field: str | None = None, expected: str | None = None, suggestions=()
    ) -> None:
        self.problems.append(
            Problem(
                message,
                source=self.source,
                location=self.locate(field),
                field=field,
                expected=expected,
                suggestions=tuple(suggestions),
            )
        )

    def __bool__(self) -> bool:
        return bool(self.problems)


def at(location: str | None) -> Callable[[str | None], str | None]:
    """A locator that puts every field of an entry at one place (a CSV line, a probed card)."""
    return lambda _field: location


def under(path: str) -> Callable[[str | None], str | None]:
    """A locator for JSON: the field's path under the entry's path."""
    return lambda field: f"{path}.{field}" if field else path


def worker_problems(worker: Any, path: str, source: str, parsed: Parsed, kind: str) -> EntryProblems | None:
    """The problems of a mining OS's worker (`kind`: HiveOS, minerstat) at `path`, located under it;
    None, with the worker skipped, when it is not an object."""
    problems = EntryProblems(source, under(path))
    if isinstance(worker, dict):
        return problems
    problems.add("not an object", expected=f"a {kind} worker")
    parsed.skip(path, problems)
    return None


# --- value converters: raise ValueError with nothing to add; the caller knows field + expected ---


def parse_pcie(value: Any) -> PcieState:
    """'gen1x1', 'Gen3 x16', 'PCIe 2.0 x1', '3x4' -> PcieState (rigshift.units reads every
    spelling the CLI takes); an inventory must name the generation it trained at."""
    if isinstance(value, Mapping):
        return PcieState(**value)
    gen, lanes = parse_link(str(value))
    if gen is None:
        raise ValueError(value)
    return PcieState(gen=gen, width=lanes)


def parse_float(
    value: Any,
    minimum: float | None = None,
    strictly_above: float | None = None,
    maximum: float | None = None,
) -> float:
    """A finite number in range: `.inf`, NaN and 1e400 are refused, never carried into a verdict."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    number = float(value.strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        raise ValueError(value)
    if strictly_above is not None and number <= strictly_above:
        raise ValueError(value)
    if maximum is not None and number > maximum:
        raise ValueError(value)
    return number


def finite(value: Any) -> float | None:
    """A JSON number as a finite float, or None (bools, text, 10**400, anything else)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def parse_watts(value: Any) -> float:
    """HiveOS prints watts as '120.00 W'; files may say 120 or '120W'."""
    text = str(value).strip()
    text = re.sub(r"\s*w(atts?)?$", "", text, flags=re.I)
    return parse_float(text, minimum=0, maximum=MAX_WATTS)


def parse_int(value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    if isinstance(value, int):
        number: float = value
    else:
        number = float(value.strip()) if isinstance(value, str) else value
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueError(value)
    return int(number)


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", ""}


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


MAX_TEXT = 200  # characters of a name or id: real ones are short, and did-you-mean is quadratic
MAX_WATTS = 10_000.0  # one GPU or one rig's PSU; a typo in kW is caught, a 1e300 never reaches a sum
MAX_VRAM_GIB = 1_024.0
MAX_GIB = 1_048_576.0  # host RAM / disk


def parse_text(value: Any) -> str:
    if isinstance(value, (Mapping, list, bytes)):
        raise ValueError(value)
    text = str(value).strip()
    if not text or len(text) > MAX_TEXT:
        raise ValueError(value)
    return text


def parse_labels(value: Any) -> dict[str, str]:
    """YAML `labels: {rack: A3}`: a flat mapping, values kept as text."""
    if not isinstance(value, Mapping) or any(isinstance(v, (Mapping, list)) for v in value.values()):
        raise ValueError(value)
    labels = {str(k): str(v) for k, v in value.items()}
    if len(labels) > 64 or any(len(k) > MAX_TEXT or len(v) > MAX_TEXT for k, v in labels.items()):
        raise ValueError(value)
    return labels


Converter = Callable[[Any], Any]
_WATTS = f"watts from 0 to {MAX_WATTS:g}"

# Columns / keys of one GPU entry: field -> (converter, what a person should write).
GPU_FIELDS: dict[str, tuple[Converter, str]] = {
    "model": (parse_text, "a GPU name such as 'RTX 3060 12GB'"),
    "count": (
        lambda v: parse_int(v, minimum=1, maximum=LIMITS.gpus_per_entry),
        f"a whole number from 1 to {LIMITS.gpus_per_entry}",
    ),
    "vram_gib": (
        lambda v: parse_float(v, strictly_above=0, maximum=MAX_VRAM_GIB),
        f"GiB > 0 and <= {MAX_VRAM_GIB:g}",
    ),
    "brand": (parse_text, "nvidia or amd"),
    "index": (lambda v: parse_int(v, minimum=0, maximum=1023), "a whole number from 0 to 1023"),
    "bus_id": (parse_text, "a PCI bus id such as 0000:03:00.0"),
    "uuid": (parse_text, "text"),
    "serial": (parse_text, "text"),
    "pcie": (parse_pcie, "a link such as gen1x1 or gen3x16"),
    "pcie_max": (parse_pcie, "a link such as gen3x16"),
    "power_limit_w": (parse_watts, _WATTS),
    "power_min_w": (parse_watts, _WATTS),
    "power_default_w": (parse_watts, _WATTS),
    "power_max_w": (parse_watts, _WATTS),
    "power_draw_w": (parse_watts, _WATTS),
    "temperature_c": (lambda v: parse_float(v, minimum=-100, maximum=200), "degrees C from -100 to 200"),
    "memory_temperature_c": (
        lambda v: parse_float(v, minimum=-100, maximum=200),
        "degrees C from -100 to 200",
    ),
    "fan_pct": (lambda v: parse_float(v, minimum=0, maximum=100), "percent from 0 to 100"),
    "miner_running": (parse_bool, "true or false"),
    "hashrate_mhs": (lambda v: parse_float(v, minimum=0), "MH/s >= 0"),
    "algorithm": (parse_text, "text"),
    "vram_used_by_others_gib": (
        lambda v: parse_float(v, minimum=0, maximum=MAX_VRAM_GIB),
        f"GiB >= 0 and <= {MAX_VRAM_GIB:g}",
    ),
    "reserved_for_mining": (parse_bool, "true or false"),
    "labels": (parse_labels, "a mapping of names to text"),
}

RIG_FIELDS: dict[str, tuple[Converter, str]] = {
    "name": (parse_text, "a rig name"),
    "site": (parse_text, "a site name"),
    "hostname": (parse_text, "a host name"),
    "cpu_model": (parse_text, "text"),
    "cpu_cores": (lambda v: parse_int(v, minimum=1, maximum=4096), "a whole number from 1 to 4096"),
    "ram_gib": (lambda v: parse_float(v, strictly_above=0, maximum=MAX_GIB), "GiB > 0"),
    "disk_gib": (lambda v: parse_float(v, strictly_above=0, maximum=MAX_GIB), "GiB > 0"),
    "disk_read_gbs": (lambda v: parse_float(v, strictly_above=0, maximum=1000), "GB/s > 0 and <= 1000"),
    "network_gbps": (lambda v: parse_float(v, strictly_above=0, maximum=10_000), "Gbit/s > 0"),
    "psu_w": (lambda v: _positive(parse_watts(v)), f"watts > 0 and <= {MAX_WATTS:g}"),
    "mining_os": (parse_text, "hiveos, raveos, minerstat, ..."),
    "motherboard": (parse_text, "text"),
    "labels": (parse_labels, "a mapping of names to text"),
}


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(value)
    return value


def convert_fields(
    raw: Mapping[str, Any], known: Mapping[str, tuple[Converter, str]], problems: EntryProblems
) -> dict[str, Any]:
    """Convert the known fields of `raw`, recording a problem for each bad or unknown one.

    Blank values (None, '') mean "not given"; unknown keys get a did-you-mean, because a typo
    such as `vram_gb` would otherwise silently drop a value.
    """
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            name = str(key)
            problems.add(
                "unknown field",
                field=name if len(name) <= 60 else name[:60] + "…",
                expected="one of the documented fields",
                suggestions=did_you_mean(str(key), known),
            )
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        converter, expected = known[key]
        try:
            values[key] = converter(value)
        except (ValueError, TypeError, ValidationError):
            problems.add(f"bad value {value!r}", field=key, expected=expected)
    return values


def gpus_from_entry(values: Mapping[str, Any], resolver: Resolver, problems: EntryProblems) -> list[Gpu]:
    """One converted GPU entry -> `count` Gpu records (several for 'model: X, count: 6')."""
    if "model" not in values:
        if not any(p.field == "model" for p in problems.problems):
            problems.add("missing", field="model", expected="a GPU name such as 'RTX 3060 12GB'")
        return []
    if not isinstance(values["model"], str) or len(values["model"]) > MAX_TEXT:
        problems.add("not a GPU name", field="model", expected=f"a GPU name of at most {MAX_TEXT} characters")
        return []
    count = values.get("count", 1)
    if count > 1:
        for per_card in ("bus_id", "uuid", "serial", "index"):
            if per_card in values:
                problems.add(
                    f"a per-card id on an entry with count {count}",
                    field=per_card,
                    expected="count 1, or no per-card id",
                )
    name = values["model"]
    resolved = resolver(name, values.get("vram_gib"))
    vram: float | None = values.get("vram_gib") or resolved.vram_gib
    if vram is None:
        problems.add(
            f"unknown GPU {name!r} and no VRAM given",
            field="vram_gib",
            expected="vram_gib, needed when the model is not in the catalog",
            suggestions=resolved.suggestions,
        )
    if problems or vram is None:
        return []
    power = {
        target: values[source]
        for source, target in (
            ("power_min_w", "min"),
            ("power_default_w", "default"),
            ("power_max_w", "max"),
            ("power_limit_w", "current"),
        )
        if source in values
    }
    pcie = values.get("pcie")
    if pcie is not None and "pcie_max" in values:
        pcie = pcie.model_copy(
            update={"max_gen": values["pcie_max"].gen, "max_width": values["pcie_max"].width}
        )
    gpu_fields: dict[str, Any] = {
        k: values[k]
        for k in (
            "brand",
            "index",
            "bus_id",
            "uuid",
            "serial",
            "power_draw_w",
            "temperature_c",
            "memory_temperature_c",
            "fan_pct",
            "miner_running",
            "hashrate_mhs",
            "algorithm",
            "vram_used_by_others_gib",
            "reserved_for_mining",
            "labels",
        )
        if k in values
    }
    if pcie is not None:
        gpu_fields["pcie"] = pcie
    if power:
        gpu_fields["power"] = PowerLimits(**power)
    try:
        gpu = Gpu(
            model=resolved.key,
            reported_name=name,
            name_suggestions=list(resolved.suggestions),
            vram_variants_gib=list(resolved.vram_variants) if not values.get("vram_gib") else [],
            vram_gib=vram,
            **gpu_fields,
        )
    except ValidationError as error:
        _add_validation(problems, error)
        return []
    return [gpu] + [gpu.model_copy(deep=True) for _ in range(count - 1)]


def _add_validation(problems: EntryProblems, error: ValidationError) -> None:
    for problem in problems_from_validation(error, problems.source, dotted_field=True):
        problems.add(problem.message, field=problem.field)


def rig_from_values(values: Mapping[str, Any], gpus: list[Gpu], problems: EntryProblems) -> Rig | None:
    for required in ("name", "site"):
        if required not in values and not any(p.field == required for p in problems.problems):
            problems.add("missing", field=required, expected=RIG_FIELDS[required][1])
    for id_field in ("bus_id", "uuid"):
        ids = [getattr(g, id_field) for g in gpus if getattr(g, id_field)]
        for repeated in sorted({i for i in ids if ids.count(i) > 1}):
            problems.add(
                f"{repeated!r} names more than one card of this rig",
                field=id_field,
                expected="a different id per card",
            )
    if len(gpus) > LIMITS.gpus_per_rig:
        problems.add(
            f"{len(gpus)} GPUs in one rig",
            field="gpus",
            expected=f"at most {LIMITS.gpus_per_rig} GPUs per rig (one host)",
        )
    if problems:
        return None
    try:
        return Rig(**values, gpus=gpus)
    except ValidationError as error:
        _add_validation(problems, error)
        return None


def assemble_fleet(name: str, rigs: list[Rig], sites: list[Site] | None = None) -> Fleet:
    """A fleet whose `sites` lists every site a rig names (declared sites first, in order)."""
    known = {s.name: s for s in sites or []}
    for rig in rigs:
        known.setdefault(rig.site, Site(name=rig.site))
    return Fleet(name=name, sites=list(known.values()), rigs=rigs)


class GpuBudget:
    """How many GPUs a source may still add (LIMITS.gpus_per_file) before the parser stops: a
    file of a million `count: 64` entries must not become 64 million records in memory."""

    def __init__(self, source: str, limit: int = LIMITS.gpus_per_file):
        self.source = source
        self.left = limit
        self.limit = limit

    def spend(self, gpus: int) -> None:
        self.left -= gpus

    def exhausted(self, parsed: Parsed, location: str | None) -> bool:
        """True (with one problem recorded) once the limit or the problem limit is passed."""
        if self.left < 0:
            parsed.problems.append(
                Problem(
                    f"more than {self.limit:,} GPUs; stopped reading here",
                    source=self.source,
                    location=location,
                    expected=f"at most {self.limit:,} GPUs per file (split the inventory)",
                )
            )
            return True
        if len(parsed.problems) >= LIMITS.problems:
            parsed.problems.append(
                Problem(
                    f"more than {LIMITS.problems:,} problems; stopped reading here",
                    source=self.source,
                    location=location,
                )
            )
            return True
        return False


@dataclass
class RigsByName:
    """A source's rigs, one per name: a later rig of a name already taken is left out with a
    problem (merging them would fold two rigs' cards, with the same bus ids, into one)."""

    parsed: Parsed
    clash: str  # the problem, formatted with the rig's `name` and where the `first` one stands
    expected: str
    rigs: list[Rig] = field(default_factory=list)
    _first: dict[str, str] = field(default_factory=dict)

    def add(self, rig: Rig, where: str, problems: EntryProblems, skipped: str) -> None:
        """Keep `rig` (found at `where`), or skip it as `skipped` with the clash in `problems`."""
        first = self._first.get(rig.name)
        if first is not None:
            problems.add(self.clash.format(name=rig.name, first=first), field="name", expected=self.expected)
            self.parsed.skip(skipped, problems)
            return
        self._first[rig.name] = where
        self.rigs.append(rig)
