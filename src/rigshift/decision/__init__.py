"""One farm decision, computed once, that every view renders (docs/decision.md).

`decide(fleet, inputs, tools)` runs capable → hostable now → viable → worth converting → placed
over the assessment, the economics and the planner, and returns a frozen `FarmDecision` whose
`summary` every `--json` carries as its top-level `decision`.
"""

from typing import TYPE_CHECKING, Any

from rigshift.decision.types import DEFAULT_MAX_TTFT_S, DecisionSummary, Funnel, GpuDecision, MonthlyNet

if TYPE_CHECKING:
    from rigshift.decision.compute import PUBLISHED, FarmDecision, decide
    from rigshift.decision.funnel import ServiceLevel


def __getattr__(name: str) -> Any:
    # The decision runs the economics (HiGHS) and the planner: loaded on first use, so that a
    # command reading only the types (or its --help) starts without them.
    if name in ("PUBLISHED", "FarmDecision", "decide"):
        from rigshift.decision import compute

        return getattr(compute, name)
    if name == "ServiceLevel":
        from rigshift.decision.funnel import ServiceLevel

        return ServiceLevel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MAX_TTFT_S",
    "PUBLISHED",
    "DecisionSummary",
    "FarmDecision",
    "Funnel",
    "GpuDecision",
    "MonthlyNet",
    "ServiceLevel",
    "decide",
]
