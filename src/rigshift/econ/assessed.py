"""Which model classes a card can *sell*: the assessment's verdict, applied to the economics.

The assessment (rigshift.assess) decides whether a GPU serves a class of model at a quality a
buyer accepts (>= Q4, >= 8k context, >= 20 tokens/s per stream by default), alone or split over
its rig. The economics takes that verdict as given and asks the estimator only for the speed:
`AssessedThroughput` answers None for a (card, class) the assessment rejected, so that card earns
nothing from that class (and says why).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from rigshift.assess import FleetAssessment, ModelClass, ReadinessCriteria, assess_fleet
from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.econ.cards import InferenceRate, ThroughputModel
from rigshift.econ.inputs import AiInputs, EconInputs, ModelClassPrice
from rigshift.econ.throughput import EstimatorThroughput
from rigshift.estimate.types import PcieLink
from rigshift.fleet.model import Fleet

# Upper bounds (billions of parameters) of the assessment's classes, for models it does not list.
_CLASS_BOUNDS = ((3.5, ModelClass.UP_TO_3B), (9.5, ModelClass.B7_9), (15.0, ModelClass.B12_14))


def assessment_class(model: str, params_b: float | None, criteria: ReadinessCriteria) -> ModelClass:
    """The assessment class a priced model belongs to: where the criteria list it, else by size."""
    for model_class, models in criteria.reference_models.items():
        if model in models:
            return model_class
    for bound, model_class in _CLASS_BOUNDS:
        if params_b is not None and params_b <= bound:
            return model_class
    return ModelClass.B30_PLUS


def served_classes(assessment: FleetAssessment, fleet: Fleet) -> dict[str, set[ModelClass]]:
    """GPU key -> classes some GPU of that model serves to the criteria, alone or in its rig."""
    served: dict[str, set[ModelClass]] = defaultdict(set)
    for profile in assessment.profiles:
        served.setdefault(profile.gpu_model, set())  # an assessed model with no class still counts
        for result in profile.classes:
            if result.usable:
                served[profile.gpu_model].add(result.model_class)
    models_of = {(rig.site, rig.name): {g.model for g in rig.gpus} for rig in fleet.rigs}
    for rig in assessment.rigs:
        for option in rig.options:
            if option.meets_criteria:
                for key in models_of.get((rig.site, rig.name), ()):
                    served[key].add(option.model_class)
    return dict(served)


class AssessedThroughput:
    """The estimator's speeds, only for the (card, class) pairs the assessment accepts."""

    def __init__(
        self,
        inner: ThroughputModel,
        served: Mapping[str, set[ModelClass]],
        class_of: Mapping[str, ModelClass],
    ) -> None:
        self.inner, self.served, self.class_of = inner, served, class_of

    def refusal(self, spec: GpuSpec, model_class: ModelClassPrice) -> str | None:
        wanted = self.class_of.get(model_class.name)
        if spec.key not in self.served or wanted is None:
            return None  # a card the fleet does not have (one to buy): the estimator decides
        if wanted in self.served[spec.key]:
            return None
        return f"the assessment finds no {spec.name} serving {wanted.value} models to its criteria"

    def rate(
        self, spec: GpuSpec, gpus: int, link: PcieLink | None, model_class: ModelClassPrice, ai: AiInputs
    ) -> InferenceRate | None:
        if self.refusal(spec, model_class) is not None:
            return None
        return self.inner.rate(spec, gpus, link, model_class, ai)


def assessed_throughput(
    fleet: Fleet,
    inputs: EconInputs,
    estimator: EstimatorThroughput,
    criteria: ReadinessCriteria | None = None,
    assessment: FleetAssessment | None = None,
) -> AssessedThroughput:
    """The estimator's speeds, limited to the model classes the assessment says each card serves."""
    criteria = criteria or ReadinessCriteria()
    assessment = assessment or assess_fleet(fleet, criteria, estimator.tools)
    class_of = {
        p.name: assessment_class(p.model, estimator.model(p.model).params_b, criteria)
        for p in inputs.ai.token_prices
    }
    return AssessedThroughput(estimator, served_classes(assessment, fleet), class_of)
