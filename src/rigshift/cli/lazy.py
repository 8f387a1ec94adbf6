"""A typer group whose commands are imported only when they run.

`rigshift --help` must not pay for FastAPI, SQLAlchemy, Ray, HiGHS or numpy: the top-level help
is drawn from a static table (command -> module, one-line help), and a command's module is
imported the first time the command itself is resolved (to run it, or for `COMMAND --help`).
The table is checked against each module's real help by tests/cli/test_lazy_app.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import typer
from typer import _click as click  # typer vendors click; its groups only accept its own classes
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """One entry of the table: the module under `rigshift.cli` whose `register(app)` defines the
    command, and the one-line help `rigshift --help` shows without importing that module."""

    module: str
    help: str


def load_command(name: str, entry: LazyCommand) -> click.Command:
    """Import the module, let it register on a scratch Typer, and return the click command `name`."""
    module = importlib.import_module(f"rigshift.cli.{entry.module}")
    scratch = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    module.register(scratch)
    built = typer.main.get_command(scratch)
    if isinstance(built, TyperGroup):
        command = built.commands.get(name)
    else:  # a module that registers a single command gets it back bare, not in a group
        command = built if built.name == name else None
    if command is None:
        raise LookupError(f"rigshift.cli.{entry.module}.register() defines no command {name!r}")
    return command


class LazyCommands(MutableMapping[str, click.Command]):
    """`group.commands` that imports a command's module on first access (click and typer read
    commands through this mapping: `get_command`, `commands[name]`)."""

    def __init__(self, table: Mapping[str, LazyCommand], loaded: Mapping[str, click.Command] | None = None):
        self.table = table
        self.loaded: dict[str, click.Command] = dict(loaded or {})

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.loaded:
            if name not in self.table:
                raise KeyError(name)
            self.loaded[name] = load_command(name, self.table[name])
        return self.loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.loaded
        yield from (name for name in self.table if name not in self.loaded)

    def __len__(self) -> int:
        return len(set(self.loaded) | set(self.table))

    def __contains__(self, name: object) -> bool:
        return name in self.loaded or name in self.table


class _Listed(TyperCommand):
    """What the top-level help shows for a command whose module is not imported: name and help."""

    def __init__(self, name: str, help: str):
        super().__init__(name=name, help=help, short_help=help)


class LazyTyperGroup(TyperGroup):
    """The root group. `table` is set by the subclass the entry point makes (`lazy_group`)."""

    table: Mapping[str, LazyCommand] = {}

    def __init__(self, **attrs: Any):
        super().__init__(**attrs)
        self.commands = LazyCommands(self.table, self.commands)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        commands = self.commands
        assert isinstance(commands, LazyCommands)
        if self._listing and cmd_name not in commands.loaded and cmd_name in self.table:
            return _Listed(cmd_name, self.table[cmd_name].help)
        return commands.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True  # the command list comes from the table: no module imported for it
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except click.exceptions.UsageError as error:
            matches = get_close_matches(args[0], list(self.commands)) if args else []
            if matches:
                error.message = (
                    error.message.rstrip(".") + ". Did you mean " + ", ".join(map(repr, matches)) + "?"
                )
            raise


def lazy_group(table: Mapping[str, LazyCommand]) -> type[LazyTyperGroup]:
    """A LazyTyperGroup class bound to `table` (typer instantiates the class itself)."""
    return type("RigshiftGroup", (LazyTyperGroup,), {"table": table})
