"""Unlock actions: what a fix would buy, computed by re-assessing the affected GPUs with it applied.

Each action is a function from one rig's profile keys to the keys after the fix (or None when the
fix does not apply to that rig). The same `ProfileAssessor` judges the new keys, so the counts
("240 GPUs then load a model in under 30 s") come from the estimator, never from a rule of thumb,
and host-only fixes (RAM, cores, disk, cooling) reuse every cached estimate.

With `UnlockCosts` (priced from econ's inputs: board, CPU, SSD, RAM, risers, and what one more
AI-ready GPU is worth a month) every action carries its cost and monthly gain and the list is
ranked by gain per dollar. A mining board has x1 slots: no riser widens one, so reaching x4 links
is a new board per rig, priced as such. An action that readies no GPU and lifts none a tier gains
nothing and ranks last, whatever caveat it clears.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rigshift.assess.criteria import ReadinessCriteria, tier_rank
from rigshift.assess.keys import ProfileKey
from rigshift.assess.profile import ProfileAssessor, Verdict
from rigshift.assess.types import Reason, Unlock

Action = Literal["replace_risers", "add_ram", "stop_miners", "add_disk", "add_cores", "improve_cooling"]
# Distinct rig configurations (their GPUs' profile keys) and how many rigs share each one.
RigConfigs = Counter[tuple[ProfileKey, ...]]


@dataclass(frozen=True)
class UnlockCosts:
    """Prices for the fixes and the value of what they unlock (econ builds it from its inputs)."""

    board_usd: float  # a board whose slots give every GPU the target link (replaces a mining board)
    riser_usd: float  # one riser/cable, per GPU, where the slot is already wide enough
    cpu_usd: float  # a CPU with more cores, per rig
    ssd_usd: float  # an SSD, per rig
    ram_usd_per_gib: float
    value_per_ready_gpu_month: float  # net a month one more AI-ready GPU brings (0: none)
    value_per_tier_up_month: float  # net a month a GPU moving up a tier brings
    source: str = ""  # where the figures come from, printed with them


_OS_RAM_GIB = 2.0  # what the mining OS and llama-server need besides the model file
_DISK_STEPS_GIB = (128, 256, 512, 1024, 2048)


@dataclass
class _Tally:
    rigs: int = 0
    gpus: int = 0
    tier_up: int = 0
    newly_ready: int = 0
    vram_ready: float = 0.0
    cleared: int = 0
    fast_load: int = 0
    amounts: Counter[float] | None = None
    boards: int = 0  # rigs whose mining board must go (x1 slots)
    risers: int = 0  # GPUs that only need a better riser
    cost_usd: float = 0.0


def compute_unlocks(
    assessor: ProfileAssessor,
    rigs: RigConfigs,
    criteria: ReadinessCriteria,
    costs: UnlockCosts | None = None,
) -> list[Unlock]:
    fixes: list[
        tuple[Action, Reason, Callable[[Sequence[ProfileKey]], tuple[list[ProfileKey], float] | None]]
    ] = [
        ("replace_risers", Reason.PCIE_LINK, lambda keys: _better_risers(assessor, keys, criteria)),
        ("add_ram", Reason.HOST_RAM, lambda keys: _more_ram(assessor, keys)),
        ("stop_miners", Reason.VRAM, _stop_miners),
        ("add_cores", Reason.CPU_CORES, lambda keys: _more_cores(assessor, keys, criteria)),
        ("add_disk", Reason.DISK_SPACE, lambda keys: _bigger_disk(assessor, keys, criteria)),
        ("improve_cooling", Reason.THERMALS, lambda keys: _cooler(assessor, keys)),
    ]
    out: list[Unlock] = []
    for action, reason, fix in fixes:
        tally = _Tally(amounts=Counter())
        for keys, weight in rigs.items():
            fixed = fix(keys)
            if fixed is None:
                continue
            new_keys, amount = fixed
            tally.rigs += weight
            assert tally.amounts is not None
            tally.amounts[amount] += weight
            _add_cost(tally, action, keys, new_keys, amount, weight, criteria, costs)
            for old_key, new_key in zip(keys, new_keys, strict=True):
                if old_key != new_key:
                    _count(
                        tally, assessor.verdict(old_key), assessor.verdict(new_key), new_key, reason, weight
                    )
        if tally.rigs and tally.gpus:
            out.append(_unlock(action, reason, tally, criteria, costs))
    out.sort(key=_rank)
    return out


def reprice_unlocks(
    unlocks: Sequence[Unlock], value_per_ready_gpu_month: float, value_per_tier_up_month: float
) -> list[Unlock]:
    """Priced unlocks with their gains worked out again at new values, re-ranked.

    The economics prices the fixes when it asks for the assessment but only knows what an
    AI-ready GPU is worth once it has run: it calls this with that value.
    """
    out = []
    for u in unlocks:
        if u.cost_usd is None:
            out.append(u)
            continue
        gain = u.gpus_newly_ready * value_per_ready_gpu_month + u.gpus_tier_up * value_per_tier_up_month
        out.append(
            u.model_copy(
                update={
                    "monthly_gain_usd": gain,
                    "gain_per_usd": gain / u.cost_usd if u.cost_usd > 0 else None,
                }
            )
        )
    return sorted(out, key=_rank)


def _rank(u: Unlock) -> tuple[object, ...]:
    """Actions that ready or lift GPUs first; priced ones by gain per dollar (free ones first)."""
    unlocks_nothing = u.gpus_newly_ready == 0 and u.gpus_tier_up == 0
    if u.monthly_gain_usd is not None:
        per_usd = u.gain_per_usd if u.gain_per_usd is not None else float("inf")
        pays = u.monthly_gain_usd > 0
        return (unlocks_nothing, not pays, -per_usd if pays else 0.0, -u.vram_newly_ready_gib, u.action)
    return (unlocks_nothing, -u.vram_newly_ready_gib, -u.gpus_tier_up, -u.gpus_caveat_cleared, u.action)


def _needs_board(keys: Sequence[ProfileKey], new_keys: Sequence[ProfileKey], c: ReadinessCriteria) -> bool:
    """A GPU on a slot narrower than the target: mining boards wire x1 slots, so a new board."""
    return any(
        a.slot.link is not None and a.slot.link[1] < c.unlock_link_lanes
        for a, b in zip(keys, new_keys, strict=True)
        if a != b
    )


def _add_cost(
    tally: _Tally,
    action: Action,
    keys: Sequence[ProfileKey],
    new_keys: Sequence[ProfileKey],
    amount: float,
    weight: int,
    c: ReadinessCriteria,
    costs: UnlockCosts | None,
) -> None:
    if action == "replace_risers":
        if _needs_board(keys, new_keys, c):
            tally.boards += weight
        else:
            tally.risers += int(amount) * weight
    if costs is None:
        return
    per_rig = {
        "replace_risers": costs.board_usd if _needs_board(keys, new_keys, c) else costs.riser_usd * amount,
        "add_ram": costs.ram_usd_per_gib * amount,
        "add_cores": costs.cpu_usd,
        "add_disk": costs.ssd_usd,
        "stop_miners": 0.0,
        "improve_cooling": float("nan"),  # no price for airflow work: shown as unpriced
    }[action]
    tally.cost_usd += per_rig * weight


def _count(
    tally: _Tally, old: Verdict, new: Verdict, new_key: ProfileKey, reason: Reason, weight: int
) -> None:
    tally.gpus += weight
    if tier_rank(new.tier) > tier_rank(old.tier):
        tally.tier_up += weight
    if new.ready and not old.ready:
        tally.newly_ready += weight
        tally.vram_ready += new_key.slot.vram_gib * weight
    if reason in old.reasons and reason not in new.reasons:
        tally.cleared += weight
    if new.fast_load:
        tally.fast_load += weight


def _has(assessor: ProfileAssessor, key: ProfileKey, reason: Reason) -> bool:
    return reason in assessor.verdict(key).reasons


def _better_risers(
    assessor: ProfileAssessor, keys: Sequence[ProfileKey], c: ReadinessCriteria
) -> tuple[list[ProfileKey], float] | None:
    if not any(_has(assessor, k, Reason.PCIE_LINK) for k in keys):
        return None
    new: list[ProfileKey] = []
    for key in keys:
        link = key.slot.link
        if link is None or (link[0] >= c.unlock_link_gen and link[1] >= c.unlock_link_lanes):
            new.append(key)
            continue
        better = (max(link[0], c.unlock_link_gen), max(link[1], c.unlock_link_lanes))
        new.append(key._replace(slot=key.slot._replace(link=better)))
    return new, float(sum(1 for a, b in zip(keys, new, strict=True) if a != b))


def _more_ram(assessor: ProfileAssessor, keys: Sequence[ProfileKey]) -> tuple[list[ProfileKey], float] | None:
    need = 0.0
    for key in keys:
        verdict = assessor.verdict(key)
        if key.host.ram_gib is None or Reason.HOST_RAM not in verdict.reasons:
            continue
        ref = assessor.classes(key.slot)[max(tier_rank(verdict.tier) - 1, 0)]
        need = max(need, ref.model_file_gib + _OS_RAM_GIB)
    current = keys[0].host.ram_gib if keys else None
    if not need or current is None:
        return None
    # DIMMs come in 8 GB steps; round the rig's total up to the next one.
    target = math.ceil(need / 8) * 8
    added = float(target - current) if target > current else 8.0
    new_ram = current + added
    return [k._replace(host=k.host._replace(ram_gib=new_ram)) for k in keys], added


def _stop_miners(keys: Sequence[ProfileKey]) -> tuple[list[ProfileKey], float] | None:
    if not any(k.slot.used_by_others_gib > 0 for k in keys):
        return None
    new = [k._replace(slot=k.slot._replace(used_by_others_gib=0.0)) for k in keys]
    return new, 0.0


def _more_cores(
    assessor: ProfileAssessor, keys: Sequence[ProfileKey], c: ReadinessCriteria
) -> tuple[list[ProfileKey], float] | None:
    if not any(_has(assessor, k, Reason.CPU_CORES) for k in keys):
        return None
    cores = float(math.ceil(c.min_cores_per_gpu * len(keys)))
    return [k._replace(host=k.host._replace(cores_per_gpu=c.min_cores_per_gpu)) for k in keys], cores


def _bigger_disk(
    assessor: ProfileAssessor, keys: Sequence[ProfileKey], c: ReadinessCriteria
) -> tuple[list[ProfileKey], float] | None:
    if not any(_has(assessor, k, Reason.DISK_SPACE) for k in keys):
        return None
    need = max(
        c.min_disk_gib,
        *(max((r.model_file_gib for r in assessor.profile(k).classes), default=0) for k in keys),
    )
    size = float(next((s for s in _DISK_STEPS_GIB if s >= need), _DISK_STEPS_GIB[-1]))
    return [k._replace(host=k.host._replace(disk_gib=size)) for k in keys], size


def _cooler(assessor: ProfileAssessor, keys: Sequence[ProfileKey]) -> tuple[list[ProfileKey], float] | None:
    if not any(k.host.hot for k in keys):
        return None
    return [k._replace(host=k.host._replace(hot=False)) if k.host.hot else k for k in keys], 0.0


def _unlock(
    action: Action, reason: Reason, t: _Tally, c: ReadinessCriteria, costs: UnlockCosts | None = None
) -> Unlock:
    amounts = t.amounts or Counter()
    lo, hi = (min(amounts), max(amounts)) if amounts else (0.0, 0.0)
    span = f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"
    rigs = f"{t.rigs:,} rig{'s' if t.rigs != 1 else ''}"
    text = {
        "replace_risers": _riser_text(t, c),
        "add_ram": f"add {span} GB RAM to {rigs}",
        "stop_miners": f"stop the miners holding VRAM on {rigs}",
        "add_cores": f"give {rigs} at least {c.min_cores_per_gpu:g} CPU core per GPU",
        "add_disk": f"give {rigs} a {span} GB SSD",
        "improve_cooling": f"improve cooling on {rigs}",
    }[action]
    effects: list[str] = []
    if t.newly_ready:
        effects.append(f"{t.newly_ready:,} more GPUs AI-ready (+{t.vram_ready:,.0f} GiB VRAM)")
    if t.tier_up:
        effects.append(f"{t.tier_up:,} GPUs move up a tier")
    if action == "replace_risers":
        effects.append(f"{t.fast_load:,} GPUs then load a model in under {c.slow_load_seconds:g} s")
    elif t.cleared:
        effects.append(f"{t.cleared:,} GPUs lose the '{reason.text}' limit")
    priced: dict[str, object] = {}
    if costs is not None and t.cost_usd == t.cost_usd:  # NaN: no price for this kind of work
        gain = t.newly_ready * costs.value_per_ready_gpu_month + t.tier_up * costs.value_per_tier_up_month
        priced = {
            "cost_usd": t.cost_usd,
            "cost_detail": _cost_detail(action, t, costs),
            "monthly_gain_usd": gain,
            "gain_per_usd": gain / t.cost_usd if t.cost_usd > 0 else None,
        }
    return Unlock(
        **priced,  # type: ignore[arg-type]
        action=action,
        text=text,
        rigs=t.rigs,
        gpus_affected=t.gpus,
        gpus_tier_up=t.tier_up,
        gpus_newly_ready=t.newly_ready,
        vram_newly_ready_gib=round(t.vram_ready, 1),
        gpus_caveat_cleared=t.cleared,
        effect="; ".join(effects) or "no change in tier",
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def _riser_text(t: _Tally, c: ReadinessCriteria) -> str:
    link = f"Gen{c.unlock_link_gen} x{c.unlock_link_lanes}"
    parts = []
    if t.boards:  # a mining board's x1 slots cannot take a wider link: the board goes
        parts.append(f"new boards ({link} slots) for {_plural(t.boards, 'rig')}")
    if t.risers:
        parts.append(f"{link} risers for {_plural(t.risers, 'GPU')}")
    return "; ".join(parts) or f"replace risers with {link} links"


def _cost_detail(action: Action, t: _Tally, costs: UnlockCosts) -> str:
    if action == "replace_risers":
        parts = []
        if t.boards:
            parts.append(f"{_plural(t.boards, 'board')} × ${costs.board_usd:,.0f}")
        if t.risers:
            parts.append(f"{_plural(t.risers, 'riser')} × ${costs.riser_usd:,.0f}")
        return " + ".join(parts)
    return {
        "add_ram": f"${costs.ram_usd_per_gib:g}/GiB",
        "add_cores": f"{_plural(t.rigs, 'CPU')} × ${costs.cpu_usd:,.0f}",
        "add_disk": f"{_plural(t.rigs, 'SSD')} × ${costs.ssd_usd:,.0f}",
        "stop_miners": "no hardware",
    }.get(action, "")
