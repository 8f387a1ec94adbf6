"""AI-readiness assessment: which GPUs of a mining fleet can do AI work, what exactly, and why not.

Public entry point: `assess_fleet(fleet, criteria) -> FleetAssessment` (pure, no printing).
Field names of the result are documented in docs/assessment.md.
"""

from rigshift.assess.core import assess_fleet
from rigshift.assess.criteria import ModelClass, ReadinessCriteria
from rigshift.assess.tools import AssessTools, default_tools
from rigshift.assess.types import (
    ClassResult,
    FleetAssessment,
    FleetSummary,
    GpuAssessment,
    GpuProfile,
    Limit,
    Reason,
    RigAssessment,
    RigOption,
    Unlock,
    Use,
)

__all__ = [
    "AssessTools",
    "ClassResult",
    "FleetAssessment",
    "FleetSummary",
    "GpuAssessment",
    "GpuProfile",
    "Limit",
    "ModelClass",
    "ReadinessCriteria",
    "Reason",
    "RigAssessment",
    "RigOption",
    "Unlock",
    "Use",
    "assess_fleet",
    "default_tools",
]
