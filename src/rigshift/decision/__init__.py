"""One farm decision, computed once, that every view renders (docs/decision.md).

`decide(fleet, inputs, tools)` runs capable → hostable now → viable → worth converting → placed
over the assessment, the economics and the planner, and returns a frozen `FarmDecision` whose
`summary` every `--json` carries as its top-level `decision`.
"""

from rigshift.decision.compute import DEFAULT_MAX_TTFT_S, PUBLISHED, FarmDecision, decide
from rigshift.decision.funnel import ServiceLevel
from rigshift.decision.types import DecisionSummary, Funnel, GpuDecision, MonthlyNet

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
