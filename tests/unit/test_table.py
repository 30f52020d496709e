import json

import numpy as np
import pytest

from hwnas.errors import BadInputError, MissingLatencyError
from hwnas.latency.table import LatencyTable


def test_measured_table_predicts_sum_of_entries(tiny_space, tiny_table_path):
    table = LatencyTable.load(tiny_table_path)
    assert table.backend == "ort-cpu" and table.units == "ms" and table.threads == 1
    assert set(table.entries) == {s.key for s in tiny_space.all_ops()}
    arch = tiny_space.sample(np.random.default_rng(0))
    sigs = tiny_space.ops(arch)
    expected = sum(table.entries[s.key]["p50"] for s in sigs)
    assert table.predict_ops(sigs) == pytest.approx(expected)
    assert table.predict_ops(sigs, "p90") >= table.predict_ops(sigs) * 0.999
    for entry in table.entries.values():
        assert entry["n"] >= 1 and entry["p90"] >= entry["p50"] > 0


def test_save_load_round_trip(tmp_path, tiny_table_path):
    table = LatencyTable.load(tiny_table_path)
    again = LatencyTable.load(table.save(tmp_path / "copy.json"))
    assert again.to_dict() == table.to_dict()


def test_missing_entry_names_key_and_fill_command(tiny_space, tiny_table_path):
    table = LatencyTable.load(tiny_table_path)
    sigs = tiny_space.ops(tiny_space.default_arch())
    del table.entries[sigs[1].key]
    with pytest.raises(MissingLatencyError) as err:
        table.predict_ops(sigs)
    assert sigs[1].key in str(err.value) and "hwnas profile" in str(err.value)


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update(schema=99), "schema"),
    (lambda d: d.update(units="us"), "units"),
    (lambda d: d["entries"].update(bad={"p50": -1, "p90": 1, "mean": 1, "std": 0, "n": 3}),
     "finite number"),
    (lambda d: d["entries"].update(bad={"p50": float("nan"), "p90": 1, "mean": 1, "std": 0,
                                        "n": 3}), "finite number"),
    (lambda d: d.pop("backend"), "backend"),
])
def test_load_rejects_bad_tables(tmp_path, tiny_table_path, mutate, match):
    raw = json.loads(tiny_table_path.read_text())
    mutate(raw)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(BadInputError, match=match):
        LatencyTable.load(path)


def test_unreadable_and_absent_tables(tmp_path):
    (tmp_path / "garbage.json").write_text("{not json")
    with pytest.raises(BadInputError, match="not readable JSON"):
        LatencyTable.load(tmp_path / "garbage.json")
    with pytest.raises(BadInputError, match="does not exist"):
        LatencyTable.load(tmp_path / "absent.json")


def test_using_a_table_for_another_backend_is_an_error(tiny_table_path):
    table = LatencyTable.load(tiny_table_path)
    table.check_compatible(backend="ort-cpu", batch=1, dtype="fp32")
    with pytest.raises(BadInputError, match="backend=.ort-cpu., not .torch-cpu.*allow-mismatch"):
        table.check_compatible(backend="torch-cpu")


def test_allow_mismatch_returns_what_it_risks(tiny_table_path):
    table = LatencyTable.load(tiny_table_path)
    warnings = table.check_compatible(batch=8, device_slug="other-device", allow=True)
    assert len(warnings) == 2 and all("may not transfer" in w for w in warnings)
    assert "batch=1, not 8" in warnings[0] and "other-device" in warnings[1]
