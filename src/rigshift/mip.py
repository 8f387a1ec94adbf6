"""The project's one MILP solver, HiGHS (highspy): a small model builder for integer programs
written row by row (econ's conversion plan), and the quiet `Highs` both it and the placement
planner (plan/milp.py, which builds its arrays directly for 10,000-GPU models) start from.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import highspy
import numpy as np

INF = float(highspy.kHighsInf)


def new_highs() -> highspy.Highs:
    """HiGHS prints a banner on stdout (C level) the first time; keep `--json` output clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@dataclass
class Var:
    """A column; `value` is set by `MipModel.solve`."""

    index: int
    name: str
    value: float = 0.0


@dataclass
class Row:
    """lower ≤ Σ coefficient·var ≤ upper; `set` replaces a coefficient, like a solver's API."""

    lower: float
    upper: float
    name: str
    coefficients: dict[int, float] = field(default_factory=dict)

    def set(self, var: Var, coefficient: float) -> None:
        self.coefficients[var.index] = coefficient


@dataclass
class MipModel:
    """Columns, rows and a linear objective, built incrementally and solved once."""

    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integral: list[bool] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    vars: list[Var] = field(default_factory=list)
    objective_value: float = 0.0

    def int_var(self, lower: float, upper: float, name: str) -> Var:
        return self._var(lower, upper, True, name)

    def num_var(self, lower: float, upper: float, name: str) -> Var:
        return self._var(lower, upper, False, name)

    def _var(self, lower: float, upper: float, integral: bool, name: str) -> Var:
        var = Var(len(self.vars), name)
        self.vars.append(var)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integral.append(integral)
        self.cost.append(0.0)
        return var

    def row(self, lower: float, upper: float, name: str) -> Row:
        row = Row(lower, upper, name)
        self.rows.append(row)
        return row

    def set_cost(self, var: Var, coefficient: float) -> None:
        self.cost[var.index] = coefficient

    def solve(self, *, maximise: bool, rel_gap: float = 0.0) -> bool:
        """Solve to `rel_gap` (0: proven optimal); True when a feasible solution was found, with
        each var's `value` and `objective_value` set."""
        n = len(self.vars)
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = np.array(self.cost, dtype=np.float64)
        lp.col_lower_ = np.array(self.lower, dtype=np.float64)
        lp.col_upper_ = np.array(self.upper, dtype=np.float64)
        lp.row_lower_ = np.array([r.lower for r in self.rows], dtype=np.float64)
        lp.row_upper_ = np.array([r.upper for r in self.rows], dtype=np.float64)
        lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
        starts, index, value = [0], [], []
        for row in self.rows:  # row-wise: each row's entries in column order
            for col in sorted(row.coefficients):
                if row.coefficients[col] != 0.0:
                    index.append(col)
                    value.append(row.coefficients[col])
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = len(self.rows)
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in self.integral
        ]
        h = new_highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", rel_gap)
        h.setOptionValue("threads", 1)  # one thread: the same input gives the same answer
        h.setOptionValue("random_seed", 0)
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal and h.getInfo().primal_solution_status != 2:
            return False
        values = h.getSolution().col_value
        for var in self.vars:
            var.value = float(values[var.index])
        self.objective_value = float(h.getInfo().objective_function_value)
        return True
