"""How long `rigshift --help` and `rigshift estimate` take from a cold interpreter, against the
old eager CLI that imported every command module (and with them FastAPI, SQLAlchemy, alembic,
Ray, HiGHS, OR-Tools, numpy, httpx) before parsing a single argument.

    python bench/cli_startup.py [--repeat 7]

Each command runs `--repeat` times in a fresh `python` process; the best and median wall times
are printed. The baseline is built in the same run from the same command table: a plain Typer
app on which every command module registers itself, exactly as cli/app.py did before the lazy
table, running the same arguments. Both include interpreter start-up (printed on its own).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

ESTIMATE = ["estimate", "--gpu", "RTX 3060 12GB", "--model", "llama-3.1-8b"]

LAZY = "import sys; from rigshift.cli.app import app; app(sys.argv[1:])"
EAGER = """
import importlib, sys, typer
from rigshift.cli.app import COMMANDS
app = typer.Typer(name="rigshift", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
for module in dict.fromkeys(entry.module for entry in COMMANDS.values()):
    importlib.import_module(f"rigshift.cli.{module}").register(app)
app(sys.argv[1:])
"""


def wall_times(code: str, args: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{args} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    python = wall_times("pass", [], args.repeat)
    print(f"python start-up alone: best {min(python):.3f} s, median {statistics.median(python):.3f} s")
    print(f"{'command':<46}{'lazy best':>10}{'median':>9}{'old best':>10}{'median':>9}{'speed-up':>10}")
    for label, argv in (("rigshift --help", ["--help"]), ("rigshift " + " ".join(ESTIMATE), ESTIMATE)):
        lazy = wall_times(LAZY, argv, args.repeat)
        eager = wall_times(EAGER, argv, args.repeat)
        print(
            f"{label[:45]:<46}{min(lazy):>9.3f}s{statistics.median(lazy):>8.3f}s"
            f"{min(eager):>9.3f}s{statistics.median(eager):>8.3f}s{min(eager) / min(lazy):>9.1f}x"
        )


if __name__ == "__main__":
    main()
