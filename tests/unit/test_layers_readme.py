"""README "Layout" draws the layers that `lint-imports` (make test) enforces: one table row per
layer of pyproject's layers contract, in the same order, naming the same packages and modules.
So the table cannot drift from the contract, nor the contract from the table."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _contract_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [set(re.split(r"\s*[|:]\s*", layer.strip())) for layer in layers["layers"]]


def _readme_rows() -> list[set[str]]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("Inside `hwnas/`, by layer"):text.index("## Adding a plug-in")]
    rows = [line.split("|")[1] for line in section.splitlines()
            if line.startswith("| `")]
    return [{re.sub(r"(/|\.py)$", "", name) for name in re.findall(r"`([^`]+)`", first)}
            for first in rows]


def test_the_readme_table_is_the_layers_contract():
    assert _readme_rows() == _contract_layers()


def test_every_package_and_module_of_hwnas_is_in_a_layer():
    """Also what `exhaustive = true` checks; here it names what is missing."""
    children = {p.stem for p in (ROOT / "hwnas").glob("*.py") if p.stem != "__init__"}
    children |= {p.parent.name for p in (ROOT / "hwnas").glob("*/__init__.py")}
    assert children == set().union(*_contract_layers())
