"""fill, diff and the ProxylessNAS/OFA YAML import, with the numbers they must produce."""

import json
import math
import shutil

import pytest

from hwnas.errors import BadInputError
from hwnas.latency.table import LatencyTable
from hwnas.tables.diff import diff_tables
from hwnas.tables.fill import fill_table
from hwnas.tables.imports import Z90, convert_lut, import_table, parse_block_key
from profilers import TimingConfig
from tests.table_helpers import partial_table

QUICK = TimingConfig(warmup_s=0.0, min_warmup_iters=2, min_repeats=5, max_repeats=10,
                     time_budget_s=0.01)

# The real format (ProxylessNAS / once-for-all look-up tables): block string -> statistics,
# shapes height x width x channels. The last group is MobileNetV3's variant (se:/hs:, and
# expand is the middle width), whose head has a Conv_2 hwnas's head lacks.
FIXTURE_YAML = """\
Conv-input:224x224x3-output:112x112x32:
  count: 50
  mean: 2.5
  std: 0.1
expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:3-stride:1-idskip:0:
  count: 50
  mean: 1.5
  std: 0.05
expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:5-stride:2-idskip:0:
  {count: 40, mean: 3.0, var: 0.04}
expanded_conv-input:56x56x24-output:56x56x24-expand:6-kernel:3-stride:1-idskip:1:
  {count: 50, mean: 1.25, std: 0.0}
expanded_conv-input:56x56x24-output:56x56x24-expand:3-kernel:7-stride:1-idskip:0:
  {count: 50, mean: 1.0, std: 0.0}
Conv_1-input:7x7x320-output:7x7x1280:
  {count: 30, mean: 1.0, std: 0.03}
Logits-input:7x7x1280-output:1000:
  {count: 60, mean: 0.4, std: 0.04}
expanded_conv-input:28x28x40-output:28x28x40-expand:120-kernel:3-stride:1-idskip:1-se:0-hs:0:
  {count: 10, mean: 0.5, std: 0.01}
expanded_conv-input:28x28x40-output:28x28x40-expand:120-kernel:5-stride:1-idskip:1-se:1-hs:0:
  {count: 10, mean: 0.6, std: 0.01}
Conv_1-input:7x7x160-output:7x7x960: {count: 10, mean: 0.3, std: 0.01}
AvgPool2D-input:7x7x960-output:1x1x960: {count: 10, mean: 0.05, std: 0.01}
Conv_2-input:1x1x960-output:1x1x1280: {count: 10, mean: 0.2, std: 0.01}
Logits-input:1x1x1280-output:1000: {count: 10, mean: 0.1, std: 0.01}
"""

MAPPED = {
    "stem|cin=3|cout=32|hw=224|k=3|s=2": (2.5, 0.1, 50),
    "mbconv|cin=32|cout=16|hw=112|k=3|s=1|e=1": (1.5, 0.05, 50),
    "mbconv|cin=16|cout=24|hw=112|k=5|s=2|e=3": (3.0, 0.2, 40),
    "mbconv|cin=24|cout=24|hw=56|k=3|s=1|e=6": (1.25, 0.0, 50),
    "mbconv|cin=40|cout=40|hw=28|k=3|s=1|e=3": (0.5, 0.01, 10),
    "head|cin=320|cout=1280|hw=7|s=1|n=1000": (1.4, 0.05, 30),
}


# -- YAML import -------------------------------------------------------------------------------
def test_yaml_keys_map_to_hwnas_ops_with_documented_statistics(tmp_path):
    import yaml

    entries, unmapped = convert_lut(yaml.safe_load(FIXTURE_YAML))
    assert set(entries) == set(MAPPED)
    for key, (mean, std, n) in MAPPED.items():
        e = entries[key]
        assert e["p50"] == pytest.approx(mean) and e["mean"] == pytest.approx(mean)
        assert e["std"] == pytest.approx(std) and e["n"] == n
        assert e["p90"] == pytest.approx(mean + 1.2815515655 * std)
    assert entries["head|cin=320|cout=1280|hw=7|s=1|n=1000"]["extra"]["from"] == [
        "Conv_1-input:7x7x320-output:7x7x1280", "Logits-input:7x7x1280-output:1000"]
    reasons = {u["key"].split("-")[0] + ("/se" if "se:1" in u["key"] else ""): u["reason"]
               for u in unmapped}
    assert len(unmapped) == 6
    assert "idskip:0 disagrees" in reasons["expanded_conv"]
    assert "squeeze-excite" in reasons["expanded_conv/se"]
    assert "Conv_2" in reasons["Conv_2"] and "Conv_1 + [AvgPool2D +] Logits" in reasons["Conv_1"]
    assert {"AvgPool2D", "Logits"} <= set(reasons)


def test_head_with_a_separate_pool_sums_three_entries():
    lut = {"Conv_1-input:4x4x48-output:4x4x64": {"mean": 0.3, "std": 0.03, "count": 9},
           "AvgPool2D-input:4x4x64-output:1x1x64": {"mean": 0.1, "var": 0.0016, "count": 7},
           "Logits-input:1x1x64-output:10": 0.2}
    entries, unmapped = convert_lut(lut)
    assert unmapped == []
    e = entries["head|cin=48|cout=64|hw=4|s=1|n=10"]
    assert e["p50"] == pytest.approx(0.6) and e["std"] == pytest.approx(0.05) and e["n"] == 1
    assert e["p90"] == pytest.approx(0.6 + Z90 * 0.05)


def test_parse_block_key_and_bad_entries():
    assert parse_block_key("Conv-input:224x224x3-output:112x112x32") == (
        "Conv", {"input": "224x224x3", "output": "112x112x32"})
    entries, unmapped = convert_lut({"Conv-input:8x8x3-output:8x8x8": {"mean": -1},
                                     "Conv-nonsense": {"mean": 1},
                                     "expanded_conv-input:8x8x8-output:8x8x8": {"mean": 1}})
    assert entries == {} and len(unmapped) == 3
    assert "lacks expand, kernel, stride, idskip" in unmapped[-1]["reason"]
    with pytest.raises(BadInputError, match="non-empty mapping"):
        convert_lut(["not", "a", "mapping"])


def test_import_yaml_writes_a_table_and_reports_coverage(tmp_path, tiny_space):
    # Two ops of the tiny space, in the YAML's terms: its stem and its head.
    (tmp_path / "pixel.yaml").write_text(
        "Conv-input:16x16x3-output:16x16x8: {mean: 0.2, std: 0.02, count: 5}\n"
        "Conv_1-input:2x2x48-output:2x2x64: {mean: 0.1, std: 0.0, count: 5}\n"
        "Logits-input:2x2x64-output:10: {mean: 0.05, std: 0.0, count: 5}\n")
    report = import_table(tmp_path / "pixel.yaml", tables_dir=tmp_path / "lt",
                          space="proxyless", space_config={"resolution": 16, "width_mult": 0.25})
    assert report["format"] == "proxylessnas-yaml" and report["entries"] == 2
    assert report["space"]["covered"] == 2 and report["space"]["ops"] == 44
    assert report["path"].endswith("lt/pixel/proxyless-external-b1-fp32-i3-n10-r16-w0.25.json")
    table = LatencyTable.load(report["path"])
    head = [s for s in tiny_space.ops(tiny_space.default_arch()) if s.op == "head"][0]
    assert table.lookup(head) == pytest.approx(0.15)
    assert table.device["cpu"] == "pixel" and table.space["config"]["resolution"] == 16


def test_import_refuses_overwrite_and_space_for_hwnas_json(tmp_path, tiny_table_path):
    first = import_table(tiny_table_path, tables_dir=tmp_path)
    assert first["format"] == "hwnas" and first["space"]["covered"] == 44
    assert LatencyTable.load(first["path"]).to_dict() == LatencyTable.load(
        tiny_table_path).to_dict()
    with pytest.raises(BadInputError, match="already exists; pass --force"):
        import_table(tiny_table_path, tables_dir=tmp_path)
    import_table(tiny_table_path, tables_dir=tmp_path, force=True)
    with pytest.raises(BadInputError, match="records its own space"):
        import_table(tiny_table_path, out=tmp_path / "x.json", space="proxyless")
    (tmp_path / "junk.yaml").write_text("a: [unclosed\n")
    with pytest.raises(BadInputError, match="not readable YAML"):
        import_table(tmp_path / "junk.yaml", out=tmp_path / "y.json")
    (tmp_path / "none.yaml").write_text("Pool-input:1x1x1-output:1x1x1: {mean: 1}\n")
    with pytest.raises(BadInputError, match="none of its 1 entries maps.*no hwnas op"):
        import_table(tmp_path / "none.yaml", out=tmp_path / "z.json")


# -- fill ------------------------------------------------------------------------------------


def test_fill_measures_exactly_the_missing_keys_and_keeps_the_rest(tmp_path, tiny_table_path,
                                                                    tiny_space):
    path, removed = partial_table(tmp_path, tiny_table_path, 3)
    before = LatencyTable.load(path)
    report = fill_table(LatencyTable.load(path), timing=QUICK)
    assert sorted(report["measured"]) == removed and report["kept"] == 41
    after = LatencyTable.load(path)
    assert set(after.entries) == {s.key for s in tiny_space.all_ops()}
    for key, entry in before.entries.items():
        assert json.dumps(after.entries[key]) == json.dumps(entry)
    assert after.created == before.created and after.device == before.device
    data = path.read_bytes()
    again = fill_table(LatencyTable.load(path), timing=QUICK)
    assert again["measured"] == [] and path.read_bytes() == data  # complete: nothing written


def test_fill_refuses_another_device_unless_allowed(tmp_path, tiny_table_path):
    path, removed = partial_table(tmp_path, tiny_table_path, 1, device="Fake CPU 9000")
    data = path.read_bytes()
    with pytest.raises(BadInputError, match="'fake-9000-.*--allow-other-device"):
        fill_table(LatencyTable.load(path), timing=QUICK)
    assert path.read_bytes() == data
    report = fill_table(LatencyTable.load(path), allow_other_device=True, timing=QUICK)
    assert report["measured"] == removed and "incomparable" in report["warning"]


def test_fill_needs_the_tables_space(tmp_path, tiny_table_path):
    raw = json.loads(tiny_table_path.read_text())
    raw["space"] = {}
    (tmp_path / "t.json").write_text(json.dumps(raw))
    with pytest.raises(BadInputError, match="does not record which space"):
        fill_table(LatencyTable.load(tmp_path / "t.json"))


# -- diff ------------------------------------------------------------------------------------
def test_diff_with_itself_is_all_ones(tiny_table_path):
    t = LatencyTable.load(tiny_table_path)
    d = diff_tables(t, LatencyTable.load(tiny_table_path))
    assert d["common"] == 44 and d["only_in_a"] == [] and d["only_in_b"] == []
    assert d["ratio"] == {"median": 1.0, "min": 1.0, "max": 1.0, "geomean": 1.0, "sum": 1.0}
    assert d["most_different"] == [] and d["header"] == {}


def test_diff_numbers(tmp_path, tiny_table_path):
    shutil.copy(tiny_table_path, tmp_path / "b.json")
    raw = json.loads(tiny_table_path.read_text())
    keys = sorted(raw["entries"])
    raw["entries"][keys[0]]["p50"] *= 2.0
    raw["entries"][keys[1]]["p50"] /= 4.0
    raw["entries"]["stem|cin=3|cout=99|hw=16|k=3|s=1"] = dict(raw["entries"][keys[2]])
    del raw["entries"][keys[3]]
    raw.update(threads=2, batch=4)
    raw["device"]["cpu"] = "Other CPU"
    (tmp_path / "b.json").write_text(json.dumps(raw))
    d = diff_tables(LatencyTable.load(tiny_table_path), LatencyTable.load(tmp_path / "b.json"))
    assert d["common"] == 43 and d["ratio"]["median"] == 1.0
    assert d["ratio"]["max"] == pytest.approx(2.0) and d["ratio"]["min"] == pytest.approx(0.25)
    assert [m["key"] for m in d["most_different"]] == [keys[1], keys[0]]
    assert math.isclose(d["most_different"][0]["ratio"], 0.25)
    assert d["only_in_a"] == [keys[3]] and d["only_in_b"] == ["stem|cin=3|cout=99|hw=16|k=3|s=1"]
    assert set(d["header"]) == {"threads", "batch", "device"}
    assert d["header"]["batch"] == {"a": 1, "b": 4}
    assert d["header"]["device"]["b"].startswith("other-")


def test_diff_by_op_type_counts_faster_equal_and_slower(tmp_path, tiny_table_path):
    """Per op type (name, kernel, expansion; not shapes or stride): B's ops that are faster,
    within 5% or slower than A's, and the ratio of the type's sums."""
    from hwnas.tables.diff import op_type

    raw = json.loads(tiny_table_path.read_text())
    mbconv = sorted(k for k in raw["entries"] if op_type(k) == "mbconv k=3 e=3")
    assert len(mbconv) >= 3, "the tiny table has several ops of one type"
    first, second = mbconv[:2]
    raw["entries"][first]["p50"] *= 0.5  # faster in B
    raw["entries"][second]["p50"] *= 1.2  # slower in B; the type's other ops equal
    (tmp_path / "b.json").write_text(json.dumps(raw))
    a, b = LatencyTable.load(tiny_table_path), LatencyTable.load(tmp_path / "b.json")
    rows = {r["type"]: r for r in diff_tables(a, b)["by_type"]}
    row = rows["mbconv k=3 e=3"]
    assert (row["ops"], row["faster"], row["equal"], row["slower"]) == \
        (len(mbconv), 1, len(mbconv) - 2, 1)
    assert row["ratio"] == pytest.approx(row["b_ms"] / row["a_ms"])
    assert row["b_ms"] == pytest.approx(row["a_ms"] - 0.5 * a.entries[first]["p50"]
                                        + 0.2 * a.entries[second]["p50"])
    others = [r for t, r in rows.items() if t != "mbconv k=3 e=3"]
    assert all(r["equal"] == r["ops"] and r["ratio"] == pytest.approx(1.0) for r in others)
    assert op_type("mbconv|cin=16|cout=24|hw=32|k=5|s=2|e=6") == "mbconv k=5 e=6"
