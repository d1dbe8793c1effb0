"""The package list in pyproject.toml names every package directory (it is written out by hand
because the TUI's tui/ directory installs as debugtool_tui)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = {v: k for k, v in config["package-dir"].items()}  # directory -> package name
    found = set()
    for init in [*ROOT.glob("debugtool/**/__init__.py"), *ROOT.glob("tui/**/__init__.py")]:
        parts = init.parent.relative_to(ROOT).parts
        found.add(".".join([mapping.get(parts[0], parts[0]), *parts[1:]]))
    assert found == listed
    # Nothing installs under the generic name "tui".
    assert not any(name.split(".")[0] == "tui" for name in listed)
