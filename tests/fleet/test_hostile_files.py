"""Issue 13's malformed inventories, each a regression test: refused with one located line and
exit 2, quickly and in bounded memory; never a traceback, a hang or a MemoryError.

No timed asserts: a hang shows as the test never finishing (CI's timeout), and each input is
sized so that the old code hangs or explodes (10^8 GPUs, 9^9 alias expansions) while the new
code answers in milliseconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.errors import InputError
from rigshift.fleet.importer import import_files, read_source
from rigshift.readers import load_json, load_yaml, read_text
from rigshift.readers.limits import LIMITS

runner = CliRunner()


def refused(tmp_path: Path, name: str, text: str) -> str:
    """`rigshift fleet import` on the text: exit 2, nothing written, the error output."""
    (tmp_path / name).write_text(text)
    out = tmp_path / "fleet.json"
    result = runner.invoke(app, ["fleet", "import", str(tmp_path / name), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and not out.exists()
    return result.output


def test_a_count_of_a_hundred_million_is_refused_not_copied(tmp_path: Path) -> None:
    text = "rigs:\n  - name: r1\n    site: s\n    gpus:\n      - {model: RTX 3060, count: 100000000}\n"
    output = refused(tmp_path, "farm.yaml", text)
    assert "farm.yaml:line 5: count: bad value 100000000" in output
    assert f"a whole number from 1 to {LIMITS.gpus_per_entry}" in output


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    # nine anchors of nine aliases: 9^9 = 387 million values once expanded
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    output = refused(tmp_path, "bomb.yaml", "\n".join(lines) + "\nrigs: *i\n")
    assert "once aliases are expanded" in output and "bomb.yaml:line" in output


def test_recursive_aliases_and_deep_nesting_are_refused() -> None:
    with pytest.raises(InputError, match="an alias refers to a node that contains it"):
        load_yaml("rigs: &r [*r]\n", "r.yaml")
    with pytest.raises(InputError, match=f"nested more than {LIMITS.nesting} levels"):
        load_yaml("a:\n" + "".join(" " * i + "b:\n" for i in range(1, 200)), "deep.yaml")
    with pytest.raises(InputError, match="not valid YAML"):
        load_yaml("[" * 100_000, "deep.yaml")
    with pytest.raises(InputError, match="nested too deeply"):
        load_json("[" * 100_000, "deep.json")


def test_a_million_line_csv_is_refused_before_any_row_is_converted(tmp_path: Path) -> None:
    rows = "".join(f"s,rig-{i // 8},RTX 3060,12\n" for i in range(1_000_000))
    output = refused(tmp_path, "big.csv", "site,rig,model,vram_gib\n" + rows)
    assert "big.csv: 1,000,000 rows after the header" in output


def test_a_hundred_thousand_column_header_is_refused(tmp_path: Path) -> None:
    header = ",".join(f"column{i}" for i in range(100_000))
    output = refused(tmp_path, "wide.csv", header + "\n" + "x," * 99_999 + "x\n")
    assert "wide.csv:line 1: 100,000 columns" in output


def test_a_very_long_unknown_column_gets_no_quadratic_did_you_mean(tmp_path: Path) -> None:
    output = refused(tmp_path, "long.csv", "site,rig,model," + "v" * 100_000 + "\ns,r,RTX 3060,1\n")
    assert "long.csv:line 1: " + "v" * 60 + "…: unknown field" in output


def test_infinite_vram_is_refused(tmp_path: Path) -> None:
    output = refused(
        tmp_path,
        "inf.yaml",
        "rigs:\n  - name: r1\n    site: s\n    gpus:\n      - {model: RTX 3060, vram_gib: .inf}\n",
    )
    assert "inf.yaml:line 5: vram_gib: bad value inf" in output


@pytest.mark.parametrize("bus", [-3, 256, 10**20])
def test_hiveos_bus_numbers_out_of_range_are_refused(tmp_path: Path, bus: int) -> None:
    worker = {"name": "w1", "gpu_info": [{"brand": "nvidia", "model": "GeForce RTX 3060", "bus_number": bus}]}
    output = refused(tmp_path, "farm.json", json.dumps({"data": [worker]}))
    assert "farm.json:$.data[0].gpu_info[0].bus_number: bus_number: bad value" in output


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_hiveos_non_finite_numbers_are_refused_with_their_line(tmp_path: Path, number: str) -> None:
    text = (
        '{"data": [{"name": "w1",\n "gpu_info": [{"model": "RTX 3060", "details": {"mem_gb": '
        + number
        + "}}]}]}"
    )
    output = refused(tmp_path, "farm.json", text)
    assert "farm.json" in output and ("line 2" in output or "out of range" in output)


def test_junk_types_in_hiveos_are_problems_not_crashes(tmp_path: Path) -> None:
    worker = {
        "name": "w1",
        "gpu_info": [{"model": "RTX 3060", "bus_number": [1], "index": -1}],
        "gpu_stats": 5,
        "miners_stats": {"hashrates": [{"hashes": 3, "bus_numbers": {"a": 1}}]},
    }
    gpus = {"data": [{"worker": {"id": [1], "name": "w2"}, "info": "x", "stats": 3}]}
    output = refused(tmp_path, "farm.json", json.dumps({"workers": [worker], "gpus": gpus}))
    assert "index: bad value -1" in output


def test_every_problem_is_one_line_and_the_output_is_capped(tmp_path: Path) -> None:
    rows = "".join(f's,r{i},"RTX\n3060",x{i}\n' for i in range(500))
    output = refused(tmp_path, "bad.csv", "site,rig,model,vram_gib\n" + rows)
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) <= InputError.shown + 2
    assert "more problems" in lines[-1]


def test_reads_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_text("x" * 5000)
    with pytest.raises(InputError, match="larger than"):
        read_text(tmp_path / "big.csv", "an inventory", max_bytes=4096)
    with pytest.raises(InputError, match="not a regular file"):
        read_text("/dev/zero", "an inventory")
    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(InputError, match="not a regular file"):
        read_source(tmp_path / "fifo.csv")
    (tmp_path / "latin1.csv").write_bytes(b"site,rig,model\ns,r,Radeon\xe9\n")
    with pytest.raises(InputError, match=r"latin1\.csv:line 2: not UTF-8"):
        read_source(tmp_path / "latin1.csv")
    with pytest.raises(InputError, match="is a directory"):
        import_files([tmp_path])


@pytest.mark.parametrize("number", ["Infinity", "NaN", "1e400", "-5"])
def test_a_fleet_file_with_impossible_vram_is_refused(tmp_path: Path, number: str) -> None:
    fleet = '{"name": "f", "sites": [{"name": "s"}], "rigs": [{"name": "r", "site": "s", "gpus": [{"model": "x", "vram_gib": '
    (tmp_path / "fleet.json").write_text(fleet + number + "}]}]}")
    result = runner.invoke(app, ["fleet", "show", str(tmp_path / "fleet.json")])
    assert result.exit_code == 2 and "fleet.json:$.rigs[0].gpus[0].vram_gib: vram_gib:" in result.output


def test_an_alias_bomb_in_assess_criteria_is_refused(tmp_path: Path) -> None:
    lines = ["a: &a [1,1,1,1,1,1,1,1,1,1]"] + [
        f"{n}: &{n} [" + ",".join([f"*{p}"] * 10) + "]" for p, n in zip("abcdefg", "bcdefgh", strict=False)
    ]
    (tmp_path / "criteria.yaml").write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["assess", "--demo", "--criteria", str(tmp_path / "criteria.yaml")])
    assert result.exit_code == 2 and "once aliases are expanded" in result.output


def test_yaml_values_are_counted_while_composing() -> None:
    from rigshift.readers.limits import Limits

    with pytest.raises(InputError, match=r"many\.yaml:line 4: more than 4 values"):
        load_yaml("- 1\n- 2\n- 3\n- 4\n- 5\n", "many.yaml", limits=Limits(yaml_values=4))
    assert load_yaml("- 1\n- 2\n- 3\n", "few.yaml", limits=Limits(yaml_values=4)) == [1, 2, 3]


def test_writing_over_a_directory_is_an_input_error_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    source = Path(__file__).resolve().parents[2] / "examples" / "fleet" / "rig_6x3060-12g_x1.yaml"
    result = runner.invoke(app, ["fleet", "import", str(source), "-o", str(target)])
    assert result.exit_code == 2 and "cannot write" in result.output
    assert list(tmp_path.iterdir()) == [target] and list(target.iterdir()) == []
