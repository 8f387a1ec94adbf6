"""Merging sources about the same rigs: matching, and the documented precedence."""

from __future__ import annotations

import json

from rigshift.fleet.merge import merge_sources
from rigshift.fleet.model import UNASSIGNED_SITE, Fleet, Gpu, PcieState, PowerLimits, Rig
from rigshift.fleet.sources.common import Parsed, assemble_fleet
from rigshift.fleet.sources.hiveos import parse_hiveos


def parsed(kind, rigs, name="fleet") -> Parsed:
    return Parsed(kind, kind, assemble_fleet(name, rigs))


def gpu(**fields) -> Gpu:
    return Gpu(**{"model": "geforce-rtx-3060-12gb", "vram_gib": 12.0, **fields})


def test_probe_and_hiveos_enrich_one_record(examples, resolver):
    hiveos = parse_hiveos(json.loads((examples / "hiveos_farm_2workers.json").read_text()), "h", resolver)
    probe = parsed(
        "probe",
        [
            Rig(
                name="RIG_3060_01",
                hostname="RIG_3060_01",
                site=UNASSIGNED_SITE,
                cpu_cores=2,
                ram_gib=7.7,
                gpus=[
                    gpu(
                        bus_id=f"00000000:{b:02x}:00.0",
                        pcie=PcieState(gen=1, width=1, max_gen=4, max_width=16),
                        vram_used_by_others_gib=3.6,
                        temperature_c=70.0,
                        uuid=f"GPU-{b}",
                    )
                    for b in range(6, 0, -1)
                ],
            )
        ],
    )
    merged = merge_sources([hiveos, probe])
    assert len(merged.fleet.rigs) == 2  # rig-3060-01 matched by name; rig-rx580-02 only in HiveOS
    rig = merged.fleet.rigs[0]
    assert rig.name == "rig-3060-01" and rig.site == "tx-ercot"  # HiveOS name and site; probe knows none
    assert rig.external_id == "4100001" and rig.hostname == "RIG_3060_01"
    assert len(rig.gpus) == 6  # matched card by card on bus id, though listed in another order
    by_bus = {g.bus_id: g for g in rig.gpus}
    card = by_bus["00000000:01:00.0"]  # the probe's own spelling wins: hardware comes from the probe
    assert card.pcie.width == 1 and card.pcie.max_width == 16  # the link from the probe
    assert card.hashrate_mhs == 48.1 and card.algorithm == "etchash"  # hashrate from HiveOS
    assert card.power.max == 182.0  # only HiveOS knew the power limits
    assert card.temperature_c == 70.0 and card.vram_used_by_others_gib == 3.6 and card.uuid == "GPU-1"
    assert merged.fleet.site("tx-ercot").power_price_usd_kwh == 0.035


def test_precedence_per_field_group():
    file = parsed(
        "file",
        [
            Rig(
                name="r1",
                site="texas",
                psu_w=1600,
                ram_gib=8,
                gpus=[gpu(pcie=PcieState(gen=2, width=1), hashrate_mhs=40.0, reserved_for_mining=True)],
            )
        ],
    )
    hive = parsed(
        "hiveos",
        [
            Rig(
                name="r1",
                site="hive-farm",
                psu_w=1200,
                ram_gib=16,
                gpus=[gpu(bus_id="0000:01:00.0", hashrate_mhs=48.0, miner_running=True)],
            )
        ],
    )
    probe = parsed(
        "probe",
        [
            Rig(
                name="r1",
                site=UNASSIGNED_SITE,
                ram_gib=4,
                gpus=[gpu(bus_id="0000:01:00.0", pcie=PcieState(gen=1, width=1))],
            )
        ],
    )
    # The order sources are given in does not change who wins.
    for order in ([file, hive, probe], [probe, hive, file], [hive, probe, file]):
        merged = merge_sources(order)
        rig = merged.fleet.rigs[0]
        card = rig.gpus[0]
        assert rig.site == "texas" and rig.psu_w == 1600  # the person: file > hiveos
        assert rig.ram_gib == 4  # the rig itself: probe > file > hiveos
        assert (card.pcie.gen, card.pcie.width) == (1, 1)  # probe > file
        assert card.hashrate_mhs == 48.0 and card.miner_running  # hiveos > file
        assert card.reserved_for_mining  # only the file said so; others left it unset
        assert any("site 'texas' from file kept over 'hive-farm'" in n for n in merged.notes)
        assert any("ram_gib 4" in n for n in merged.notes)


def test_a_resolved_model_beats_an_unresolved_one_whatever_the_source():
    probe = parsed(
        "probe",
        [
            Rig(
                name="r",
                site=UNASSIGNED_SITE,
                gpus=[
                    Gpu(
                        model="unresolved",
                        reported_name="Weird OEM 3060",
                        name_suggestions=["RTX 3060"],
                        vram_gib=12,
                        bus_id="0000:01:00.0",
                    )
                ],
            )
        ],
    )
    hive = parsed(
        "hiveos", [Rig(name="r", site="s", gpus=[gpu(reported_name="RTX 3060", bus_id="0000:01:00.0")])]
    )
    card = merge_sources([probe, hive]).fleet.rigs[0].gpus[0]
    assert (
        card.model == "geforce-rtx-3060-12gb"
        and card.reported_name == "RTX 3060"
        and card.name_suggestions == []
    )


def test_cards_without_ids_pair_by_position_only_when_counts_agree():
    hive = parsed("hiveos", [Rig(name="r", site="s", gpus=[gpu(bus_id=f"0000:0{i}:00.0") for i in (1, 2)])])
    minerstat = parsed(
        "minerstat",
        [Rig(name="r", site=UNASSIGNED_SITE, gpus=[gpu(index=i, temperature_c=50.0 + i) for i in (0, 1)])],
    )
    rig = merge_sources([hive, minerstat]).fleet.rigs[0]
    assert [(g.bus_id, g.temperature_c) for g in rig.gpus] == [("0000:01:00.0", 50.0), ("0000:02:00.0", 51.0)]
    three = parsed("minerstat", [Rig(name="r", site=UNASSIGNED_SITE, gpus=[gpu(index=i) for i in range(3)])])
    merged = merge_sources([hive, three])
    assert len(merged.fleet.rigs[0].gpus) == 5  # no safe pairing: every card kept, and a note says so
    assert any("different GPU counts" in n for n in merged.notes)


def test_different_bus_ids_are_different_cards():
    a = parsed("hiveos", [Rig(name="r", site="s", gpus=[gpu(bus_id="0000:01:00.0")])])
    b = parsed(
        "probe",
        [
            Rig(
                name="r",
                site=UNASSIGNED_SITE,
                gpus=[gpu(bus_id="0000:02:00.0", power=PowerLimits(current=100))],
            )
        ],
    )
    assert len(merge_sources([a, b]).fleet.rigs[0].gpus) == 2


def test_merged_fleet_is_valid_and_round_trips():
    only = parsed("minerstat", [Rig(name="lonely", site=UNASSIGNED_SITE, gpus=[gpu()])])
    fleet = merge_sources([only]).fleet
    assert [s.name for s in fleet.sites] == [UNASSIGNED_SITE]
    assert Fleet.model_validate_json(fleet.model_dump_json()) == fleet


def test_merging_a_fleet_with_itself_changes_nothing():
    from rigshift.fleet.demo import demo_fleet
    from rigshift.fleet.names import CatalogResolver

    fleet = demo_fleet(seed=5, scale=300, resolver=CatalogResolver())
    merged = merge_sources([Parsed("file", "a", fleet), Parsed("hiveos", "b", fleet)])
    assert merged.fleet.model_dump() == fleet.model_dump()
    assert merged.notes == []
