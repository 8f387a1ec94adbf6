"""The measurements table on a real SQLite database (and PostgreSQL where the server tests use it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rigshift.measure.store import MeasurementStore, measurements
from rigshift.measure.types import Measurement
from rigshift.server.db import open_engine

ROW = Measurement(
    card_key="radeon-rx-570-8gb",
    card_name="AMD Radeon RX 570 Series",
    runtime="llama.cpp-vulkan",
    model_key="llama-3.1-8b",
    quant="Q4_0",
    n_prompt=0,
    n_gen=128,
    tokens_per_s=14.02,
    stddev_tokens_per_s=0.05,
    vram_gib=8.0,
    card_uuid="GPU-1234",
    driver="Mesa 24.2",
    runtime_build="e598697d (4696)",
    power_limit_w=120.0,
    pcie_link="Gen3 x1",
    gpu_memory_used_gib=4.6,
    n_gpu_layers=99,
    source="import run.md:7",
    rig="rig-01",
    measured_at=1_700_000_000.0,
    samples_tokens_per_s=(14.07, 13.98, 14.0166),
)


def test_rows_round_trip_with_every_attribute(tmp_path):
    store = MeasurementStore(open_engine(str(tmp_path / "m.db")))
    stored = store.add([ROW, replace(ROW, n_gen=0, n_prompt=512, tokens_per_s=152.3)])
    assert [s.id for s in stored] == [1, 2]
    listed = MeasurementStore(open_engine(str(tmp_path / "m.db"))).list()  # a new process sees them
    assert listed == stored
    assert replace(listed[0], id=None) == ROW
    assert listed[0].to_json()["test"] == "tg128"


def test_rows_stored_without_samples_read_back_with_none(tmp_path):
    """Rows from before the samples column (NULL) and rows whose format gave none read as ()."""
    engine = open_engine(str(tmp_path / "m.db"))
    [stored] = MeasurementStore(engine).add([replace(ROW, samples_tokens_per_s=())])
    with engine.connect() as conn:
        assert conn.execute(select(measurements.c.samples_tokens_per_s)).scalar_one() is None
    assert MeasurementStore(engine).list()[0].samples_tokens_per_s == () == stored.samples_tokens_per_s


def test_filters_by_card_runtime_and_rig(tmp_path):
    store = MeasurementStore(open_engine(str(tmp_path / "m.db")))
    store.add([ROW, replace(ROW, card_key="tesla-p40", runtime="llama.cpp-cuda", rig="rig-02")])
    assert [m.card_key for m in store.list(card_key="tesla-p40")] == ["tesla-p40"]
    assert [m.runtime for m in store.list(runtime="llama.cpp-vulkan")] == ["llama.cpp-vulkan"]
    assert [m.rig for m in store.list(rig="rig-02")] == ["rig-02"]
    assert store.delete([1]) == 1
    assert len(store.list()) == 1


def test_a_failing_batch_stores_nothing(tmp_path):
    engine = open_engine(str(tmp_path / "m.db"))
    store = MeasurementStore(engine)
    with pytest.raises(Exception):  # noqa: B017 - the database's own IntegrityError
        store.add([ROW, replace(ROW, card_key=None)])  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(measurements)).scalar() == 0


def test_importing_the_same_file_twice_stores_its_rows_once(tmp_path) -> None:
    """Regression: each import stored the rows again, so one published result counted twice in
    the calibration and narrowed its interval for nothing."""
    from typer.testing import CliRunner

    from rigshift.cli.app import app

    fixture = Path(__file__).parent / "fixtures" / "vulkan_rx570_published.md"
    db = str(tmp_path / "m.db")
    args = ["bench", "import", str(fixture), "--gpu", "RX 570 8GB", "--db", db]
    first = CliRunner().invoke(app, args)
    second = CliRunner().invoke(app, args)
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "2 measurements stored" in first.output
    assert "0 measurements stored (2 already stored" in second.output
    assert len(MeasurementStore(open_engine(db)).list()) == 2
