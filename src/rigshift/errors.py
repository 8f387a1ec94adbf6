"""One exception tree for the whole project, mapped once to exit codes and HTTP statuses.

Foreign exceptions (yaml, json, gguf, httpx, ...) are translated into these at the seam that
meets them, so the CLI can print one clear line and exit non-zero instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class RigshiftError(Exception):
    """Base of every error rigshift raises on purpose."""

    exit_code: int = 1
    http_status: int = 500


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, which field, what was expected."""

    message: str
    source: str | None = None  # file name or URL
    location: str | None = None  # "line 12", "$.workers[3].gpu_info[0]"
    field: str | None = None
    expected: str | None = None
    suggestions: tuple[str, ...] = ()

    def render(self) -> str:
        where = ":".join(p for p in (self.source, self.location) if p)
        parts = [f"{where}: " if where else ""]
        if self.field:
            parts.append(f"{self.field}: ")
        parts.append(self.message)
        if self.expected:
            parts.append(f" (expected {self.expected})")
        if self.suggestions:
            parts.append(f"; did you mean: {', '.join(self.suggestions)}?")
        # One problem, one line: a value quoted from a file may hold line breaks.
        return "".join(parts).replace("\r", "\\r").replace("\n", "\\n")


@dataclass
class InputError(RigshiftError):
    """Bad user input: unknown names, malformed files, values out of range. Exit code 2."""

    problems: Sequence[Problem] = field(default_factory=tuple)
    exit_code = 2
    http_status = 400

    def __init__(self, message_or_problems: str | Problem | Sequence[Problem], **problem_fields: object):
        if isinstance(message_or_problems, str):
            problems: Sequence[Problem] = (Problem(message_or_problems, **problem_fields),)  # type: ignore[arg-type]
        elif isinstance(message_or_problems, Problem):
            problems = (message_or_problems,)
        else:
            problems = tuple(message_or_problems)
        self.problems = problems
        super().__init__(self.render())

    # Problems printed; a file with thousands of bad rows gets the first ones and a count.
    shown = 50

    def render(self) -> str:
        lines = [p.render() for p in self.problems[: self.shown]]
        if len(self.problems) > self.shown:
            lines.append(f"… and {len(self.problems) - self.shown:,} more problems")
        return "\n".join(lines)

    @property
    def suggestions(self) -> tuple[str, ...]:
        return tuple(s for p in self.problems for s in p.suggestions)


class UnknownNameError(InputError):
    """A GPU, model, quant or runtime name that is not in the catalog."""

    http_status = 404


class InfeasiblePlan(RigshiftError):
    """Demand that cannot be placed on the fleet. Exit code 3."""

    exit_code = 3
    http_status = 409


class BackendError(RigshiftError):
    """An inference backend (llama.cpp, vLLM) failed or did not answer."""

    exit_code = 4
    http_status = 502


class EnvironmentProblem(RigshiftError):
    """The machine lacks something the command needs (no GPU driver, no tool on PATH)."""

    exit_code = 5
    http_status = 503


class MissingExtra(RigshiftError):
    """A command needs an optional part of rigshift that is not installed (`pip install
    'rigshift[server]'` or `[cluster]`). Exit code 2: the fix is the user's, a command away."""

    exit_code = 2
    http_status = 503
