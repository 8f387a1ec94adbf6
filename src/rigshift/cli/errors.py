"""Map the error tree to one clear message and an exit code, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from rich.console import Console
from rich.markup import escape

from rigshift.errors import RigshiftError
from rigshift.extras import missing_extra

P = ParamSpec("P")
R = TypeVar("R")

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def report(error: RigshiftError) -> int:
    _stderr.print(f"[bold red]error:[/] {escape(str(error))}", markup=True)
    return error.exit_code


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Decorator for CLI commands: a RigshiftError becomes a message on stderr and its exit code;
    so does an import of an extra that is not installed (which extra to install, exit 2)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RigshiftError as error:
            sys.exit(report(error))
        except ModuleNotFoundError as error:
            extra = missing_extra(error)
            if extra is None:
                raise
            sys.exit(report(extra))

    return wrapper
