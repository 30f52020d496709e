"""`hwnas profile --dtype int8`: refused in one line, exit 2 and nothing written, wherever there
is no int8 path (hwnas.tables.profile.check_dtype, hwnas.tables.bundle)."""

from __future__ import annotations

from tests.cli.helpers import assert_one_line_error, hwnas


def test_int8_on_a_backend_without_it_names_the_backends_that_have_it(tmp_path):
    proc = hwnas("profile", "--space", "proxyless", "--backend", "torch-cpu", "--dtype", "int8",
                 "-o", "t.json", cwd=tmp_path)
    assert_one_line_error(proc, 2, "'torch-cpu' has no int8 path", "int8 runs on: ort-cpu")
    assert list(tmp_path.iterdir()) == []


def test_a_bundle_of_int8_ops_is_refused_before_any_is_written(tmp_path):
    proc = hwnas("profile", "--space", "proxyless", "--bundle", "ops.zip", "--dtype", "int8",
                 cwd=tmp_path)
    assert_one_line_error(proc, 2, "a bundle cannot hold int8 ops",
                          "--backend ort-cpu --dtype int8", "fp32 or fp16")
    assert list(tmp_path.iterdir()) == []
