"""The core library must import without the TUI toolkits (harlequin's boundary test)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import debugtool


def test_core_modules_do_not_import_ui_toolkits() -> None:
    modules = sorted(
        m.name
        for m in pkgutil.walk_packages(debugtool.__path__, "debugtool.")
        # the console imports prompt_toolkit by design; __main__ runs the CLI
        if m.name not in ("debugtool.console", "debugtool.__main__")
    )
    assert "debugtool.cli" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'prompt_toolkit', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"UI toolkits imported by the core: {out.stdout}"


def test_version_is_fast_path() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "debugtool", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"debugtool {debugtool.__version__}"
    imported = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()]
    assert "argparse" not in imported
    assert "psutil" not in imported
