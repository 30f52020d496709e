"""HW-NAS-Bench's FBNet lookup table as a LatencyTable: hwnas's sums equal HW-NAS-Bench's."""

import csv
import json
import math
from pathlib import Path

import pytest

from hwnas.errors import BadInputError
from hwnas.latency.columns import predict_energy
from hwnas.latency.table import LatencyTable
from hwnas.spaces.fbnet import FBNetSpace
from hwnas.tables.hwnasbench import LATENCY_METRICS, import_fbnet, import_fbnet_table
from tests.cli.helpers import assert_one_line_error, hwnas
from tests.tabular_helpers import FIXTURE_DIR, FULL_DIR, needs_full_fbnet

# The fixture holds HW-NAS-Bench's lookup table and reference check whole and part of the
# layer-wise table (tests/fixtures/nb201_hw/README.md), so these run on every checkout.
DATA = FIXTURE_DIR


def _rows(name: str, folder: Path = DATA) -> list[dict]:
    with (folder / name).open(newline="") as f:
        return list(csv.DictReader(f))


def test_costs_equal_hwnas_bench_printed_values():
    """Every row of the reference check: 3 archs x 2 settings x 8 metrics (5 latency, 3 energy)."""
    tables, checked = {}, {"latency": 0, "energy": 0}
    for row in _rows("fbnet_reference_check.csv"):
        device, kind, _unit = row["metric"].split("_")
        setting = row["dataset"]
        if (device, setting) not in tables:
            tables[device, setting] = import_fbnet_table(DATA, f"{device}_latency", setting)
        table, space = tables[device, setting], FBNetSpace(setting)
        sigs = space.ops(space.from_indices(int(i) for i in row["arch_op_indices"].split("-")))
        got = table.predict_ops(sigs) if kind == "latency" else predict_energy(table, sigs)
        assert math.isclose(got, float(row["printed_by_hw_nas_bench"]), rel_tol=1e-9), row
        checked[kind] += 1
    assert checked == {"latency": 30, "energy": 18}
    assert math.isclose(tables["edgegpu", "cifar100"].predict_ops(
        FBNetSpace().ops(FBNetSpace().from_indices([0] * 22))), 15.804523468017578, rel_tol=1e-12)


def _layerwise_matches(metric: str, folder: Path) -> dict[str, int]:
    """Each (setting, layer, op) row of fbnet_hw_layerwise.csv is the entry of that layer's op,
    and the 'fixed' row is the sum of the stem and the three head ops; rows per setting."""
    device = metric.removesuffix("_latency")
    column = f"{device}_latency_ms"
    counts = {}
    for setting in ("cifar100", "ImageNet"):
        table, space = import_fbnet_table(folder, metric, setting), FBNetSpace(setting)
        # 112 ops of the space, + HW-NAS-Bench's cifar10 classifier (FC 1504->10) on cifar100
        assert len(table.entries) == (113 if setting == "cifar100" else 112)
        rows = [r for r in _rows("fbnet_hw_layerwise.csv", folder) if r["dataset"] == setting]
        counts[setting] = len(rows)
        for row in rows:
            if row["layer"] == "fixed":
                sigs = space.ops(space.default_arch())
                fixed = [sigs[0], *sigs[-3:]]
                assert math.isclose(sum(table.lookup(s) for s in fixed), float(row[column]),
                                    rel_tol=1e-12)
                continue
            layer, op = int(row["layer"]), int(row["op_index"])
            sig = space.ops(space.from_indices([0] * layer + [op] + [0] * (21 - layer)))[1 + layer]
            assert table.lookup(sig) == float(row[column]), row
            assert table.entries[sig.key]["extra"]["from"] == [row["lookup_keys"]]
    return counts


@pytest.mark.parametrize("metric", LATENCY_METRICS)
def test_every_layer_choice_equals_the_layerwise_table(metric):
    """On the fixture's rows: the fixed rows and layers 0, 1, 5, 21 with each of 9 ops."""
    assert _layerwise_matches(metric, DATA) == {"cifar100": 1 + 4 * 9, "ImageNet": 1 + 4 * 9}


@needs_full_fbnet
@pytest.mark.parametrize("metric", LATENCY_METRICS)
def test_every_layer_choice_of_the_full_layerwise_table(metric):
    assert _layerwise_matches(metric, FULL_DIR) == {"cifar100": 1 + 22 * 9,
                                                     "ImageNet": 1 + 22 * 9}


def test_table_fields_and_energy_column(tmp_path):
    table = import_fbnet_table(DATA / "fbnet_hw_lookup.csv", "fpga_latency_ms", "imagenet")
    assert table.backend == "hwnas-bench:fpga" and table.units == "ms" and table.batch == 1
    assert table.space == {"name": "fbnet", "config": {"setting": "ImageNet", "num_classes": 1000}}
    assert {k: table.device[k] for k in ("source", "device", "metric", "note")} == {
        "source": "HW-NAS-Bench", "device": "fpga", "metric": "fpga_latency",
        "note": "single published value per block"}
    entry = next(iter(table.entries.values()))
    assert entry["p50"] == entry["p90"] == entry["mean"] and entry["std"] == 0 and entry["n"] == 1
    # HW-NAS-Bench's FPGA energy is 7 W x latency; it is in energy_mj, never in the ms fields
    assert all(math.isclose(e["energy_mj"], 7 * e["p50"], rel_tol=1e-12, abs_tol=1e-15)
               for e in table.entries.values())
    assert "energy_mj" not in next(iter(import_fbnet_table(DATA, "pixel3_latency",
                                                           "cifar100").entries.values()))
    saved = LatencyTable.load(table.save(tmp_path / "t.json"))  # passes the loader's checks
    assert saved.entries == json.loads(json.dumps(table.entries))


@pytest.mark.parametrize("metric, setting, needle", [
    ("edgegpu_energy", "cifar100", "import --metric edgegpu_latency instead"),
    ("pixel_latency", "cifar100", "did you mean 'pixel3_latency'"),
    ("raspi4_latency", "cifar10", "Did you mean 'cifar100'"),
])
def test_bad_metric_or_setting_is_one_line(metric, setting, needle):
    with pytest.raises(BadInputError, match=needle) as exc:
        import_fbnet_table(DATA, metric, setting)
    assert "\n" not in str(exc.value)


def test_incomplete_or_wrong_files_are_refused(tmp_path):
    lines = (DATA / "fbnet_hw_lookup.csv").read_text().splitlines()
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(line for line in lines if "Cin16_Cout24" not in line) + "\n")
    with pytest.raises(BadInputError, match="lacks .* e.g. ConvBlock_H32_W32_Cin16_Cout24"):
        import_fbnet_table(cut, "pixel3_latency", "cifar100")
    with pytest.raises(BadInputError, match="layer-wise arrangement"):
        import_fbnet_table(DATA / "fbnet_hw_layerwise.csv", "pixel3_latency", "cifar100")
    with pytest.raises(BadInputError, match="does not exist"):
        import_fbnet_table(tmp_path, "pixel3_latency", "cifar100")


def test_import_writes_under_the_device_folder(tmp_path):
    report = import_fbnet(DATA, "eyeriss_latency", "cifar100", tables_dir=tmp_path)
    path = Path(report["path"])
    assert path == tmp_path / "hwnas-bench-eyeriss" / \
        "fbnet-hwnas-bench-eyeriss-b1-fp32-scifar100.json"
    assert report["columns"] == ["p50", "energy_mj"] and report["entries"] == 113
    assert report["space"] == {"name": "fbnet", "ops": 112, "covered": 112, "missing": []}
    with pytest.raises(BadInputError, match="already exists"):
        import_fbnet(DATA, "eyeriss_latency", "cifar100", tables_dir=tmp_path)


def test_cli_import_and_errors(tmp_path):
    out = tmp_path / "pixel3.json"
    proc = hwnas("tables", "import", str(DATA), "--format", "hwnas-bench-fbnet", "--metric",
                 "pixel3_latency", "--setting", "cifar100", "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["path"] == str(out)
    space = FBNetSpace()
    total = LatencyTable.load(out).predict_ops(space.ops(space.from_indices([0] * 22)))
    assert math.isclose(total, 7.788973100000002, rel_tol=1e-9)
    assert_one_line_error(hwnas("tables", "import", str(DATA), "--metric", "fpga_energy"), 2,
                          "fpga_latency")
    assert_one_line_error(hwnas("tables", "import", str(DATA), "--metric", "pixel3_latency",
                                "--space", "proxyless"), 2, "--space does not apply")


def test_ten_classes_use_hwnas_bench_cifar10_classifier():
    """A search on a 10-class dataset sets num_classes=10: priced by FC_Cin1504_Cout10."""
    table = import_fbnet_table(DATA, "raspi4_latency", "cifar100")
    space = FBNetSpace("cifar100", num_classes=10)
    fc = space.ops(space.default_arch())[-1]
    fc_row = next(r for r in _rows("fbnet_hw_lookup.csv") if r["key"] == "FC_Cin1504_Cout10")
    assert table.lookup(fc) == float(fc_row["raspi4_latency_ms"])
    assert not table.missing(space.all_ops())
