import math

import numpy as np
import pytest

from hwnas.errors import BadInputError
from hwnas.registry import BENCHMARK_FORMATS, ESTIMATORS, SPACES
from hwnas.tabular.benchmark import BenchmarkTable
from hwnas.tabular.formats.base import BenchmarkFormat, get_format
from hwnas.tabular.formats.nb201_hw import Nb201HwFormat
from tests.tabular_helpers import (
    ALL_NONE,
    BEST_C10,
    C10_PIXEL3_FRONT,
    FIXTURE_CSV,
    FIXTURE_DIR,
    FIXTURE_ROWS,
    FULL_CSV,
    FULL_DIR,
    ROW0,
    ROW1,
    needs_full_fbnet,
    needs_full_table,
)


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
    assert table.format.name == "nb201-hw" and isinstance(table.format, Nb201HwFormat)
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
    ("a,b\n1,2\n", "matches no known benchmark format \\(its header: a, b\\); known formats: "
                   "nb201-hw \\(an 'arch_str' column"),
    (b"\xff\xfe\x00binary", "not a readable CSV .* known formats: nb201-hw"),
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


# -- formats ----------------------------------------------------------------------------------
class CellFormat(BenchmarkFormat):
    """A made-up benchmark of the nb201 space: NB201 strings under `cell`, accuracies as
    fractions in `top1`, measured with C=8."""

    registry_name = "cell-bench"
    space = "nb201"
    arch_column = "cell"
    aliases = {"accuracy": "top1", "latency:phone": "phone_ms"}
    accuracy_scale = 1.0
    space_options = {"C": 8}

    def detect(self, header):
        return "cell" in header and "top1" in header

    def is_accuracy(self, column):
        return column == "top1"

    def parse_arch(self, text):
        return Nb201HwFormat().parse_arch(text)

    def arch_text(self, arch):
        return Nb201HwFormat().arch_text(arch)


@pytest.fixture
def cell_csv(tmp_path):
    path = tmp_path / "cell.csv"
    path.write_text(f"cell,top1,phone_ms\n{ROW0},0.5,2.0\n{ROW1},0.75,4.0\n")
    return path


@pytest.fixture
def cell_registered(monkeypatch):
    BENCHMARK_FORMATS.names()  # the built-in formats first, then the test's for this test only
    monkeypatch.setitem(BENCHMARK_FORMATS._items, "cell-bench", CellFormat)


def test_nb201_hw_is_registered_and_reads_its_arch_strings():
    fmt = get_format("nb201-hw")
    assert "nb201-hw" in BENCHMARK_FORMATS.names() and fmt.space == "nb201"
    assert fmt.arch_column == "arch_str" and fmt.space_options == {"C": 16, "N": 5}
    assert fmt.aliases["latency:pixel3"] == "hw_c10_pixel3_latency_ms"
    assert fmt.is_accuracy("nb201_c10_test_acc_12ep") and not fmt.is_accuracy("index")
    assert fmt.arch_text(fmt.parse_arch(BEST_C10)) == BEST_C10
    assert fmt.detect(["index", "arch_str"]) and not fmt.detect(["cell", "top1"])
    with pytest.raises(BadInputError, match="did you mean 'nb201-hw'"):
        get_format("nb201_hw")


def test_a_format_instance_reads_another_layout(cell_csv):
    table = BenchmarkTable.load(cell_csv, format=CellFormat())
    assert table.space_name == "nb201" and table.format.name == "cell-bench"
    assert table.objective_values("accuracy").tolist() == [0.5, 0.75]  # scale 1: as stored
    assert table.resolve("latency:phone") == "phone_ms"
    assert table.row_of(SPACES.get("nb201")().from_string(ROW1)) == 1
    with pytest.raises(BadInputError, match="matches no known benchmark format"):
        BenchmarkTable.load(cell_csv)  # not registered: detection does not know it


def test_detection_finds_a_registered_format_and_refuses_two(cell_registered, cell_csv,
                                                            tmp_path):
    assert BenchmarkTable.load(cell_csv).format.name == "cell-bench"
    both = tmp_path / "both.csv"
    both.write_text(f"arch_str,cell,top1\n{ROW0},{ROW0},0.5\n")
    with pytest.raises(BadInputError, match="matches several formats \\(cell-bench, nb201-hw\\)"):
        BenchmarkTable.load(both)
    assert BenchmarkTable.load(both, format="nb201-hw").format.arch_column == "arch_str"
    with pytest.raises(BadInputError, match="not in format cell-bench .*its header: index"):
        BenchmarkTable.load(FIXTURE_CSV, format="cell-bench")


def test_estimator_reads_space_options_from_the_format(cell_registered, cell_csv):
    with pytest.raises(BadInputError, match="measured nb201 with C=8, but the space has C=16"):
        ESTIMATORS.get("tabular")(SPACES.get("nb201")(), benchmark=str(cell_csv))
    space = SPACES.get("nb201")(C=8)
    estimator = ESTIMATORS.get("tabular")(space, benchmark=str(cell_csv), costs="latency:phone")
    result = estimator.estimate(space.from_string(ROW1))
    assert result.accuracy == 0.75 and result.extra["objectives"] == {"latency:phone": 4.0}


# -- the fixture (always here) ----------------------------------------------------------------
def test_fixture_values_and_coverage():
    table = BenchmarkTable.load(FIXTURE_CSV)
    assert table.n_rows == FIXTURE_ROWS and len(table.columns) == 34
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
    assert counts == {"latency:pixel3": FIXTURE_ROWS, "latency:edgegpu": 58,
                      "latency:edgetpu": 51, "energy:fpga": FIXTURE_ROWS}
    accuracy = table.objective_values("accuracy")
    best = int(np.argmax(accuracy))  # the full table's optimum is in the fixture
    assert table.arch_string(best) == BEST_C10 and accuracy[best] == 94.37333333333333 / 100
    assert table.row_of(table.arch_of(best)) == best and table.row_of(ALL_NONE) >= 0


def test_fixture_holds_the_full_tables_cifar10_pixel3_front():
    """Cut with the full table's front, so its own front is that front (as `hwnas bench` and
    the fixture script's sweep both count it)."""
    from hwnas.league.metrics import TrueFront
    from tests.fixtures.make_nb201_fixture import FRONT, read_lines, read_records, true_front

    table = BenchmarkTable.load(FIXTURE_CSV)
    F = np.column_stack([table.objective_values(n) for n in ("accuracy:cifar10",
                                                              "latency:pixel3")])
    truth = TrueFront.of(F, ["max", "min"])
    swept = true_front(read_records(read_lines(FIXTURE_CSV))[1], *FRONT)
    assert truth.rows.size == len(swept) == C10_PIXEL3_FRONT
    assert set(truth.rows.tolist()) == swept and BEST_C10 in {table.arch_string(r) for r in swept}


def test_estimator_returns_the_csv_values():
    space = SPACES.get("nb201")()
    estimator = ESTIMATORS.get("tabular")(space, dataset="digits", benchmark=str(FIXTURE_CSV),
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


def test_estimator_other_accuracy_and_list_costs():
    space = SPACES.get("nb201")()
    estimator = ESTIMATORS.get("tabular")(space, benchmark=str(FIXTURE_CSV),
                                          accuracy="accuracy:cifar100",
                                          costs=["latency:edgegpu", "latency:edgetpu"])
    result = estimator.estimate(space.from_string(ROW1))
    assert result.accuracy == 70.29333326822916 / 100
    # the accuracy asked by name is reported under that name too, so that a run's
    # objectives can name it as `hwnas bench`'s do (`--objectives accuracy:cifar100,...`)
    assert result.extra["objectives"] == {"latency:edgegpu": 6.547689437866211,
                                          "latency:edgetpu": 1.4389883610001561,
                                          "accuracy:cifar100": result.accuracy}
    assert estimator.provides() == {"accuracy", "accuracy:cifar100", "latency:edgegpu",
                                    "latency:edgetpu"}
    with pytest.raises(BadInputError, match="no latency:edgegpu value for .*avg_pool_3x3~0.*"
                                            f"only 58 of {FIXTURE_ROWS}.*e.g. latency:raspi4"):
        estimator.estimate(space.from_string(ROW0))


def test_estimator_needs_a_benchmark():
    with pytest.raises(BadInputError, match="needs a benchmark CSV: pass --estimator-opt "
                                            "benchmark=.*nb201_hw.csv"):
        ESTIMATORS.get("tabular")(SPACES.get("nb201")())


@pytest.mark.parametrize("space_name, space_opts, options, match", [
    ("nb201", {}, {"costs": "latency:pixle3"}, "closest: 'latency:pixel3'"),
    ("nb201", {}, {"accuracy": "latency:pixel3"},
     "'accuracy' option of estimator 'tabular' must be an accuracy of the benchmark, one of "
     "accuracy, accuracy:cifar10. Got 'latency:pixel3' instead. \\(it reads "
     "hw_c10_pixel3_latency_ms"),
    ("nb201", {}, {"costs": 3}, "'costs' option of estimator 'tabular' .* Got 3"),
    ("nb201", {}, {"costs": "latency:pixel3,latency:pixel3"}, "must be distinct costs"),
    ("nb201", {"C": 8}, {}, "C=16, but the space has C=8"),
    ("proxyless", {}, {}, "covers space 'nb201', not 'proxyless'"),
])
def test_estimator_bad_options(small_csv, space_name, space_opts, options, match):
    space = SPACES.get(space_name)(**space_opts)
    with pytest.raises(BadInputError, match=match) as info:
        ESTIMATORS.get("tabular")(space, benchmark=str(small_csv), **options)
    assert "\n" not in str(info.value)


# -- the full table (where this checkout has it) ----------------------------------------------
@needs_full_table
def test_full_benchmark_values_and_coverage():
    table = BenchmarkTable.load(FULL_CSV)
    assert table.n_rows == 15_625 and len(table.columns) == 34
    assert table.arch_string(0) == ROW0 and table.arch_string(1) == ROW1
    counts = {n: int(table.available(n).sum()) for n in
              ("latency:pixel3", "latency:edgegpu", "latency:edgetpu", "energy:fpga")}
    assert counts == {"latency:pixel3": 15_625, "latency:edgegpu": 1_999,
                      "latency:edgetpu": 1_740, "energy:fpga": 15_625}
    accuracy = table.objective_values("accuracy")
    assert int(np.argmax(accuracy)) == 6111 and accuracy[6111] == 94.37333333333333 / 100
    assert table.row_of(table.arch_of(6111)) == 6111
    space = SPACES.get("nb201")()
    estimator = ESTIMATORS.get("tabular")(space, benchmark=str(FULL_CSV), costs="latency:edgegpu")
    with pytest.raises(BadInputError, match="only 1,999 of 15,625"):
        estimator.estimate(space.from_string(ROW0))


@needs_full_table
@needs_full_fbnet
def test_fixture_is_exactly_the_documented_cut_of_the_full_folder():
    from tests.fixtures.make_nb201_fixture import cut

    files = cut(FULL_DIR)
    assert sorted(files) == sorted(p.name for p in FIXTURE_DIR.iterdir() if p.name != "README.md")
    for name, text in files.items():
        assert (FIXTURE_DIR / name).read_bytes() == text.encode(), name
    full = BenchmarkTable.load(FULL_CSV)
    fixture = BenchmarkTable.load(FIXTURE_CSV)
    for row in range(fixture.n_rows):  # same values as the full table's row of the same arch
        twin = full.row_of(fixture.arch_string(row))
        for column in fixture.numeric_columns():
            a, b = fixture.values(column)[row], full.values(column)[twin]
            assert a == b or (math.isnan(a) and math.isnan(b)), (row, column)
