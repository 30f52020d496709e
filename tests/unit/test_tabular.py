import math
from pathlib import Path

import numpy as np
import pytest

from hwnas.errors import BadInputError
from hwnas.registry import ESTIMATORS, SPACES
from hwnas.tabular.benchmark import BenchmarkTable

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "nb201_hw" / \
    "nb201_hw.csv"
needs_data = pytest.mark.skipif(not DATA.is_file(), reason=f"benchmark CSV not found at {DATA}")

ROW0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|" \
       "skip_connect~2|"
ROW1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" \
       "skip_connect~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture
def small_csv(tmp_path):
    """Three rows in the benchmark's format, one with an empty edgegpu cell."""
    path = tmp_path / "mini.csv"
    path.write_text(
        "index,arch_str,nats_c10_test_acc_200ep,hw_c10_pixel3_latency_ms,"
        "hw_c10_edgegpu_latency_ms\n"
        f"0,{ROW0},85.5,3.5,\n1,{ROW1},93.25,17.0,6.5\n2,{ALL_NONE},10.0,1.25,0.75\n")
    return path


def test_loads_columns_rows_and_caches_per_path(small_csv):
    table = BenchmarkTable.load(small_csv)
    assert table.n_rows == 3 and table.space_name == "nb201" and table.path == small_csv
    assert table.columns[:2] == ["index", "arch_str"]
    assert BenchmarkTable.load(str(small_csv.parent / ".." / small_csv.parent.name / "mini.csv")) \
        is table
    values = table.values("hw_c10_edgegpu_latency_ms")
    assert math.isnan(values[0]) and values[1:].tolist() == [6.5, 0.75]
    assert table.objective_values("accuracy").tolist() == [0.855, 0.9325, 0.1]
    assert table.objective_values("latency:pixel3").tolist() == [3.5, 17.0, 1.25]
    assert table.available(["accuracy", "latency:edgegpu"]).tolist() == [False, True, True]
    with pytest.raises(ValueError):  # shared arrays: a caller cannot corrupt the cache
        table.objective_values("accuracy")[0] = 1.0
    with pytest.raises(BadInputError, match="'arch_str' is a text column"):
        table.values("arch_str")


def test_rows_and_archs_map_both_ways(small_csv):
    table = BenchmarkTable.load(small_csv)
    space = SPACES.get("nb201")()
    assert table.row_of(space.from_string(ROW1)) == 1
    assert table.row_of(ALL_NONE) == 2
    assert space.to_string(table.arch_of(0)) == ROW0
    with pytest.raises(BadInputError, match="rows are 0..2"):
        table.arch_of(3)
    absent = space.from_string(ROW0.replace("avg_pool_3x3~0", "none~0"))
    with pytest.raises(BadInputError, match="not in benchmark"):
        table.row_of(absent)


def test_unknown_name_lists_allowed_names_and_closest(small_csv):
    table = BenchmarkTable.load(small_csv)
    with pytest.raises(BadInputError) as info:
        table.resolve("latency:pixel")
    message = str(info.value)
    assert "closest: 'latency:pixel3'" in message and "\n" not in message
    assert "allowed: accuracy, accuracy:cifar10, latency:pixel3, latency:edgegpu" in message
    # Aliases whose column this CSV lacks are not offered; the arch string is not numeric.
    assert "latency:fpga" not in message and "arch_str" not in message


@pytest.mark.parametrize("content, match", [
    (None, "does not exist; CSV files in"),
    ("a,b\n1,2\n", "no 'arch_str' column \\(its header: a, b\\)"),
    (b"\xff\xfe\x00binary", "not a readable CSV"),
    (f"arch_str,x\n{ROW0},1\n{ROW0},2\n", "twice"),
    ("arch_str,x\nnot-an-arch,1\n", "row 0: cannot read NB201 arch string"),
    (f"arch_str,x\n{ROW0},1,2\n", "line 2 has 3 fields"),
    (f"arch_str,x,x\n{ROW0},1,2\n", "names column\\(s\\) x twice"),
])
def test_bad_files_are_one_line_errors(tmp_path, small_csv, content, match):
    path = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(BadInputError, match=match) as info:
        BenchmarkTable.load(path)
    assert "\n" not in str(info.value)


@needs_data
def test_real_benchmark_values_and_coverage():
    table = BenchmarkTable.load(DATA)
    assert table.n_rows == 15_625 and len(table.columns) == 34
    assert table.arch_string(0) == ROW0 and table.arch_string(1) == ROW1
    assert table.resolve("latency:edgetpu") == "hw_c10_edgetpu_latency_ms"
    assert table.resolve("energy:fpga") == "hw_c10_fpga_energy_mJ_derived"
    assert table.resolve("accuracy:imagenet16") == "nats_in16_test_acc_200ep"
    assert table.values("nats_c10_test_acc_200ep")[:2].tolist() == [85.86333333333334,
                                                                    93.66000000000001]
    assert table.objective_values("accuracy:cifar100")[1] == 70.29333326822916 / 100
    assert table.objective_values("latency:raspi4")[0] == 10.481976820010459
    counts = {n: int(table.available(n).sum()) for n in
              ("latency:pixel3", "latency:edgegpu", "latency:edgetpu", "energy:fpga")}
    assert counts == {"latency:pixel3": 15_625, "latency:edgegpu": 1_999,
                      "latency:edgetpu": 1_740, "energy:fpga": 15_625}
    accuracy = table.objective_values("accuracy")
    assert int(np.argmax(accuracy)) == 6111 and accuracy[6111] == 94.37333333333333 / 100
    assert table.row_of(table.arch_of(6111)) == 6111


@needs_data
def test_estimator_returns_the_csv_values():
    space = SPACES.get("nb201")()
    estimator = ESTIMATORS.get("tabular")(space, dataset="digits", benchmark=str(DATA),
                                          costs="latency:pixel3, energy:fpga")
    assert estimator.provides() == {"accuracy", "latency:pixel3", "energy:fpga"}
    first = estimator.estimate(space.from_string(ROW0))
    assert first.accuracy == 85.86333333333334 / 100 and first.epochs == 0
    assert first.extra == {"objectives": {"latency:pixel3": 3.6058499999999998,
                                          "energy:fpga": 18.01072}, "row": 0}
    second = estimator.estimate(space.from_string(ROW1))
    assert second.accuracy == 93.66000000000001 / 100
    assert second.extra["objectives"] == {"latency:pixel3": 17.2381, "energy:fpga": 37.20752}
    assert 0 <= second.seconds < 0.1
    assert estimator.config()["costs"] == ["latency:pixel3", "energy:fpga"]


@needs_data
def test_estimator_other_accuracy_and_list_costs():
    space = SPACES.get("nb201")()
    estimator = ESTIMATORS.get("tabular")(space, benchmark=str(DATA), accuracy="accuracy:cifar100",
                                          costs=["latency:edgegpu", "latency:edgetpu"])
    result = estimator.estimate(space.from_string(ROW1))
    assert result.accuracy == 70.29333326822916 / 100
    assert result.extra["objectives"] == {"latency:edgegpu": 6.547689437866211,
                                          "latency:edgetpu": 1.4389883610001561}
    with pytest.raises(BadInputError, match="no latency:edgegpu value for .*avg_pool_3x3~0.*"
                                            "only 1,999 of 15,625"):
        estimator.estimate(space.from_string(ROW0))


def test_estimator_needs_a_benchmark():
    estimator = ESTIMATORS.get("tabular")(SPACES.get("nb201")())
    with pytest.raises(BadInputError, match="needs a benchmark CSV: pass --estimator-opt "
                                            "benchmark="):
        estimator.config()


@pytest.mark.parametrize("space_name, space_opts, options, match", [
    ("nb201", {}, {"costs": "latency:pixle3"}, "closest: 'latency:pixel3'"),
    ("nb201", {}, {"accuracy": "latency:pixel3"}, "must name an accuracy"),
    ("nb201", {}, {"costs": 3}, "'costs' parameter .* Got 3"),
    ("nb201", {}, {"costs": "latency:pixel3,latency:pixel3"}, "distinct"),
    ("nb201", {"C": 8}, {}, "C=16, but the space has C=8"),
    ("proxyless", {}, {}, "covers space 'nb201', not 'proxyless'"),
])
def test_estimator_bad_options(small_csv, space_name, space_opts, options, match):
    space = SPACES.get(space_name)(**space_opts)
    estimator = ESTIMATORS.get("tabular")(space, benchmark=str(small_csv), **options)
    with pytest.raises(BadInputError, match=match) as info:
        estimator.config()
    assert "\n" not in str(info.value)
