"""Tokens per second for a model class on a group of cards, from rigshift's estimator.

The economics asks one question of the estimator: on k such cards in one rig, does this model
fit, and how fast does it decode and prefill? Answers are cached per distinct question, since a
sensitivity sweep asks the same ones many times.
"""

from __future__ import annotations

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.model_spec import ModelSpec
from rigshift.econ.cards import InferenceRate
from rigshift.econ.inputs import AiInputs, ModelClassPrice
from rigshift.estimate import Hardware, PcieLink, Workload
from rigshift.estimate.types import safe_rate
from rigshift.toolkit import Toolkit, default_toolkit


class EstimatorThroughput:
    """The real `ThroughputModel`: one `estimate()` per (card, group size, link, model, load)."""

    def __init__(self, tools: Toolkit | None = None) -> None:
        self.tools = tools or default_toolkit()
        self._models: dict[str, ModelSpec] = {}
        self._cache: dict[tuple[object, ...], InferenceRate | None] = {}

    def model(self, name: str) -> ModelSpec:
        if name not in self._models:
            self._models[name] = self.tools.model(name)
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
            model_class.parallel or ai.parallel or ai.max_parallel,
            model_class.context or ai.context,
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
            context=model_class.context or ai.context or 8192,
            parallel=model_class.parallel or ai.parallel or ai.max_parallel,
            prompt_tokens=max(1, ai.input_tokens_per_request),
        )
        result = self.tools.estimate(workload, Hardware.of(spec, count=gpus, link=link))
        if not result.fits:
            return None
        # Money is decided on the safe end: a card class resting on priors earns at the low end of
        # the prior's interval (the central figures stay in the estimate for display).
        return InferenceRate(
            decode_tokens_per_s=safe_rate(
                result, result.decode_tokens_per_s_total, result.decode_tps_total_low
            ),
            prefill_tokens_per_s=safe_rate(result, result.prefill_tokens_per_s, result.prefill_tps_low),
            gpus=gpus,
            runtime=result.runtime,
            host_ram_gib=result.memory.host_ram,
            model_file_gib=result.memory.weights,
            decode_tps_low=result.decode_tps_total_low,
            prefill_tps_low=result.prefill_tps_low,
            uncalibrated=result.provenance.uncalibrated,
        )
