"""The CLI entry points on generated files: exit 0 or 2 (3 for a plan that cannot be placed),
one `error:` line per problem, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from rigshift.cli.app import app

from .strategies import CONFIG_DOC, DEMAND_DOC, FLEET_YAML_DOC, HIVEOS_DOC, as_json, as_yaml, csv_text
from .test_loaders_fuzz import fuzz

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def invoke_cleanly(*args: str, allowed: tuple[int, ...] = (0, 2)) -> None:
    result = runner.invoke(app, list(args))
    # SystemExit is how a command reports its exit code; anything else escaped the error tree.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in allowed, result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "error:" in result.output


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-fuzz")


@pytest.fixture(scope="module")
def fleet_file(workdir: Path) -> Path:
    out = workdir / "fleet.json"
    result = runner.invoke(
        app, ["fleet", "import", str(EXAMPLES / "fleet" / "rig_6x3060-12g_x1.yaml"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


@fuzz(300)
@given(
    st.one_of(
        st.tuples(st.just("inv.yaml"), FLEET_YAML_DOC.map(as_yaml)),
        st.tuples(st.just("inv.csv"), csv_text()),
        st.tuples(st.just("inv.json"), HIVEOS_DOC.map(as_json)),
        st.tuples(st.sampled_from(["inv.csv", "inv.yaml", "inv.json"]), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))),
    )
)  # fmt: skip
def test_fleet_import(workdir: Path, named_text: tuple[str, str]) -> None:
    name, text = named_text
    (workdir / name).write_text(text, encoding="utf-8", errors="surrogateescape")
    invoke_cleanly("fleet", "import", str(workdir / name), "-o", str(workdir / "out.json"))


@fuzz(300)
@given(CONFIG_DOC)
def test_estimate_from_config_json(workdir: Path, doc: object) -> None:
    (workdir / "config.json").write_text(as_json(doc))
    invoke_cleanly("estimate", "--gpu", "RTX 3060 12GB", "--model", str(workdir / "config.json"))


@fuzz(150)
@given(DEMAND_DOC)
def test_plan(workdir: Path, fleet_file: Path, doc: object) -> None:
    (workdir / "demand.yaml").write_text(as_yaml(doc))
    invoke_cleanly("plan", str(fleet_file), str(workdir / "demand.yaml"), allowed=(0, 2, 3))
