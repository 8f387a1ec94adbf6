"""Tokens per second for a model class on a group of cards, from rigshift's estimator.

The economics asks one question of the estimator: on k such cards in one rig, does this model
fit, and how fast does it decode and prefill? Answers are cached per distinct question, since a
sensitivity sweep asks the same ones many times.
"""

from __future__ import annotations

from collections.abc import Callable

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.catalog.models import load_model
from rigshift.econ.cards import InferenceRate
from rigshift.econ.inputs import AiInputs, ModelClassPrice
from rigshift.estimate import Estimate, Hardware, PcieLink, Workload, estimate


class EstimatorThroughput:
    """The real `ThroughputModel`: one `estimate()` per (card, group size, link, model, load)."""

    def __init__(self, estimator: Callable[[Workload, Hardware], Estimate] = estimate) -> None:
        self.estimator = estimator  # corrected by measurements where the caller loaded them
        self._models: dict[str, ModelSpec] = {}
        self._cache: dict[tuple[object, ...], InferenceRate | None] = {}

    def model(self, name: str) -> ModelSpec:
        if name not in self._models:
            self._models[name] = load_model(name)
        return self._models[name]

    def rate(
        self, spec: GpuSpec, gpus: int, link: PcieLink | None, model_class: ModelClassPrice, ai: AiInputs
    ) -> InferenceRate | None:
        key = (
            spec.key,
            gpus,
            link,
            model_class.model,
            model_class.quant,
            ai.parallel,
            ai.context,
            ai.input_tokens_per_request,
        )
        if key not in self._cache:
            self._cache[key] = self._rate(spec, gpus, link, model_class, ai)
        return self._cache[key]

    def _rate(
        self, spec: GpuSpec, gpus: int, link: PcieLink | None, model_class: ModelClassPrice, ai: AiInputs
    ) -> InferenceRate | None:
        workload = Workload(
            model=self.model(model_class.model),
            quant=model_class.quant,
            context=ai.context,
            parallel=ai.parallel,
            prompt_tokens=max(1, ai.input_tokens_per_request),
        )
        result = self.estimator(workload, Hardware.of(spec, count=gpus, link=link))
        if not result.fits:
            return None
        return InferenceRate(
            decode_tokens_per_s=result.decode_tokens_per_s_total,
            prefill_tokens_per_s=result.prefill_tokens_per_s,
            gpus=gpus,
            runtime=result.runtime,
        )
