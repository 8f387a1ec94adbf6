"""The fleet the server reports on, and the analyses of it the console and the API serve.

The fleet comes from `rigshift server --fleet FILE` or, for `rigshift up --demo`, the bundled
demo farm; the prices and demand from `rigshift server --prices FILE --demand FILE` (read once, at
the start), else the defaults, so the server decides on what `rigshift assess|econ|plan --prices
--demand` decide on. Assessment and economics are the CLI's own functions (`assess_fleet`,
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
from dataclasses import replace
from pathlib import Path
from typing import TypeVar, cast

from rigshift.assess import FleetAssessment, ReadinessCriteria, assess_fleet
from rigshift.decision.compute import FarmDecision
from rigshift.decision.service import DecisionFiles, decide_with, read_decision_files
from rigshift.econ.analysis import Economics
from rigshift.econ.service import fleet_economics
from rigshift.fleet.model import Fleet
from rigshift.server.services.decision_what_if import WhatIf, scaled
from rigshift.toolkit import Toolkit, default_toolkit

_T = TypeVar("_T")


class FleetSource:
    def __init__(
        self, load: Callable[[], Fleet] | None, label: str | None = None, files: DecisionFiles | None = None
    ):
        self._load = load
        self.label = label  # where the fleet comes from, shown to the operator
        self._files = files  # the prices and demand; None: the defaults, read on first use
        self.tools_for: Callable[[Fleet], Toolkit] | None = None  # the calibrated toolkit (create_app)
        self._lock = threading.Lock()
        self._fleet: Fleet | None = None
        self._tools: Toolkit | None = None
        self._assessment: FleetAssessment | None = None
        self._economics: Economics | None = None
        self._decision: FarmDecision | None = None
        self._deciding: threading.Thread | None = None

    @classmethod
    def from_file(cls, path: str | Path, files: DecisionFiles | None = None) -> FleetSource:
        from rigshift.fleet.store import load_fleet

        return cls(lambda: load_fleet(Path(path)), str(path), files)

    @classmethod
    def demo(cls, files: DecisionFiles | None = None) -> FleetSource:
        from rigshift.fleet.demo import demo_fleet

        return cls(demo_fleet, "the bundled demo farm (synthetic)", files)

    @classmethod
    def none(cls) -> FleetSource:
        return cls(None)

    @property
    def configured(self) -> bool:
        return self._load is not None

    def files(self) -> DecisionFiles:
        """The prices and demand every analysis here reads (`--prices`/`--demand`, else defaults)."""
        with self._lock:
            if self._files is None:
                self._files = read_decision_files()
            return self._files

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
        """The farm decision (docs/decision.md) on the server's prices, demand and measurements: what
        `rigshift assess|econ|plan --prices P --demand D --json` print as `decision` for this fleet."""
        files = self.files()
        return self._kept(
            "_decision", lambda fleet, tools: decide_with(fleet, tools, files, with_sensitivity=True)
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
        """The same decision with the server's prices, demand or service level changed (the
        console's what-if); unchanged inputs are the server's own decision."""
        if what.is_default:
            return self.decision()
        fleet = self.fleet()
        if fleet is None:
            return None
        files = self.files()
        changed, inputs = scaled(fleet, files.inputs, what)
        return decide_with(changed, self.tools(), replace(files, inputs=inputs), max_ttft_s=what.max_ttft_s)

    def economics(self) -> Economics | None:
        """The decision's economics (its conversion plan is the decision's "worth converting")."""
        made = self.decision()
        if made is not None and made.economics is None:
            fleet = self.fleet()
            assert fleet is not None
            files = self.files()
            # Raises: nothing priceable, and why.
            return fleet_economics(fleet, files.prices, tools=self.tools(), demand=files.demand)
        return None if made is None else made.economics

    def what_if(self, power_factor: float, token_factor: float) -> Economics | None:
        """The economics with every power price and every token price scaled (one grid cell)."""
        fleet = self.fleet()
        if fleet is None:
            return None
        files = self.files()
        return fleet_economics(
            fleet,
            files.prices,
            tools=self.tools(),
            demand=files.demand,
            power_factors=(power_factor,),
            token_factors=(token_factor,),
        )

    def warm(self) -> None:
        """Load the fleet, then assess it, then price it (a background thread at start-up)."""
        self.fleet()
        self.assessment()
        self.economics()
