"""The fleet the server reports on, and the analyses of it the console and the API serve.

The fleet comes from `rigshift server --fleet FILE` or, for `rigshift up --demo`, the bundled
demo farm. Assessment and economics are the CLI's own functions (`assess_fleet`,
`fleet_economics`) run once per fleet on a worker thread and kept: they take about a second on the
2,000-GPU demo and only change when the fleet or the prices do. What-if economics (other power or
token prices) are computed per request and not kept.

Their speeds are the estimator's corrected by the measurements the server keeps (its database's
rows, `rigshift bench --rig` or POST /admin/measurements, and the fleet file's), as the CLI's are
by `rigshift.measure.calibrate.toolkit_for`: `tools_for` builds that toolkit, and `invalidate()`
drops what was computed when new measurements arrive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

from rigshift.assess import FleetAssessment, ReadinessCriteria, assess_fleet
from rigshift.decision.compute import FarmDecision, decide
from rigshift.decision.service import measurements_label
from rigshift.econ.analysis import Economics
from rigshift.econ.prices import load_inputs
from rigshift.econ.service import fleet_economics
from rigshift.fleet.model import Fleet
from rigshift.server.services.decision_what_if import WhatIf, scaled
from rigshift.toolkit import Toolkit, default_toolkit

_T = TypeVar("_T")


class FleetSource:
    def __init__(self, load: Callable[[], Fleet] | None, label: str | None = None):
        self._load = load
        self.label = label  # where the fleet comes from, shown to the operator
        self.tools_for: Callable[[Fleet], Toolkit] | None = None  # the calibrated toolkit (create_app)
        self._lock = threading.Lock()
        self._fleet: Fleet | None = None
        self._tools: Toolkit | None = None
        self._assessment: FleetAssessment | None = None
        self._economics: Economics | None = None
        self._decision: FarmDecision | None = None
        self._deciding: threading.Thread | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> FleetSource:
        from rigshift.fleet.store import load_fleet

        return cls(lambda: load_fleet(Path(path)), str(path))

    @classmethod
    def demo(cls) -> FleetSource:
        from rigshift.fleet.demo import demo_fleet

        return cls(demo_fleet, "the bundled demo farm (synthetic)")

    @classmethod
    def none(cls) -> FleetSource:
        return cls(None)

    @property
    def configured(self) -> bool:
        return self._load is not None

    def fleet(self) -> Fleet | None:
        if self._load is None:
            return None
        with self._lock:
            if self._fleet is None:
                self._fleet = self._load()
            return self._fleet

    def tools(self) -> Toolkit:
        """The toolkit every analysis here runs on (calibrated by the stored measurements)."""
        fleet = self.fleet()
        with self._lock:
            if self._tools is None:
                self._tools = (
                    self.tools_for(fleet)
                    if self.tools_for is not None and fleet is not None
                    else default_toolkit()
                )
            return self._tools

    def invalidate(self) -> None:
        """New measurements: the next request recomputes the assessment and economics with them."""
        with self._lock:
            self._tools = self._assessment = self._economics = None
            self._decision = None

    def _kept(self, name: str, compute: Callable[[Fleet, Toolkit], _T]) -> _T | None:
        """The analysis kept in attribute `name`, computed from the fleet and the toolkit on first
        use (under the lock: once, however many requests ask at once); None without a fleet."""
        fleet = self.fleet()
        if fleet is None:
            return None
        tools = self.tools()
        with self._lock:
            if getattr(self, name) is None:
                setattr(self, name, compute(fleet, tools))
            return cast(_T, getattr(self, name))

    def assessment(self) -> FleetAssessment | None:
        return self._kept("_assessment", lambda fleet, tools: assess_fleet(fleet, ReadinessCriteria(), tools))

    def loaded_assessment(self) -> FleetAssessment | None:
        return self._assessment

    def decision(self) -> FarmDecision | None:
        """The farm decision (docs/decision.md) with the default prices and demand and the server's
        measurements: what `rigshift assess|econ|plan --json` print as `decision` for this fleet."""
        return self._kept(
            "_decision",
            lambda fleet, tools: decide(
                fleet, load_inputs(None), tools, measurements=measurements_label(tools), with_sensitivity=True
            ),
        )

    def decision_if_ready(self) -> FarmDecision | None:
        """The decision if it is computed; else None, with its computation started on a background
        thread (once): a request never waits seconds for it (the Overview polls)."""
        if self._decision is not None or self.fleet() is None:
            return self._decision
        with self._lock:
            if self._deciding is None or not self._deciding.is_alive():
                self._deciding = threading.Thread(target=self.decision, name="farm-decision", daemon=True)
                self._deciding.start()
        return None

    def decision_what_if(self, what: WhatIf) -> FarmDecision | None:
        """The same decision on other prices, demand or service level (the console's what-if);
        unchanged inputs are the server's own decision."""
        if what.is_default:
            return self.decision()
        fleet = self.fleet()
        if fleet is None:
            return None
        tools = self.tools()
        changed, inputs = scaled(fleet, load_inputs(None), what)
        return decide(
            changed, inputs, tools, max_ttft_s=what.max_ttft_s, measurements=measurements_label(tools)
        )

    def economics(self) -> Economics | None:
        """The decision's economics (its conversion plan is the decision's "worth converting")."""
        made = self.decision()
        if made is not None and made.economics is None:
            fleet = self.fleet()
            assert fleet is not None
            return fleet_economics(fleet, tools=self.tools())  # raises: nothing priceable, and why
        return None if made is None else made.economics

    def what_if(self, power_factor: float, token_factor: float) -> Economics | None:
        """The economics with every power price and every token price scaled (one grid cell)."""
        fleet = self.fleet()
        if fleet is None:
            return None
        return fleet_economics(
            fleet, tools=self.tools(), power_factors=(power_factor,), token_factors=(token_factor,)
        )

    def warm(self) -> None:
        """Load the fleet, then assess it, then price it (a background thread at start-up)."""
        self.fleet()
        self.assessment()
        self.economics()
