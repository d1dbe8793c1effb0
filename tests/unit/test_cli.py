"""The CLI's own behaviour: help, version, usage errors with exit 125 and one sentence."""

from __future__ import annotations

import os

from debugtool.cli import main


def test_help_lists_every_command(capsys) -> None:
    import pkgutil

    import debugtool.commands

    assert main([]) == 0
    out = capsys.readouterr().out
    listed = {
        line.split()[0] for line in out.splitlines() if line.startswith("    ") and line.split()
    }
    modules = {m.name for m in pkgutil.iter_modules(debugtool.commands.__path__)}
    assert modules and modules <= listed


def test_unknown_command_is_a_usage_error(capsys) -> None:
    assert main(["frobnicate"]) == 125
    err = capsys.readouterr().err
    assert err.startswith("debugtool: ") and "frobnicate" in err
    assert "Traceback" not in err


def test_unknown_runtime_is_named(capsys) -> None:
    assert main(["ps", "--runtime", "nosuch"]) == 125
    err = capsys.readouterr().err
    if os.geteuid() == 0:
        assert "unknown runtime nosuch" in err
    else:  # the privilege check comes first
        assert "needs CAP_SYS_ADMIN" in err


def test_the_command_exits_after_flushing_what_it_wrote(tmp_path) -> None:
    """One-shot commands leave with os._exit (no interpreter teardown): what they printed
    still reaches a pipe whole, and their exit code is kept."""
    import subprocess
    import sys

    run = [sys.executable, "-m", "debugtool"]
    env = {"DEBUGTOOL_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "PATH": "/usr/bin:/bin"}
    (tmp_path / "audit.jsonl").write_text(
        "".join(f'{{"action": "exec", "n": {i}}}\n' for i in range(3000))
    )
    out = subprocess.run([*run, "audit", "--json"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") >= 3000 and out.stdout.rstrip().endswith("]")
    bad = subprocess.run([*run, "top", "--interval", "nan", "x"], capture_output=True, text=True)
    assert bad.returncode == 125 and "--interval" in bad.stderr


def test_the_command_list_names_every_command_module() -> None:
    """commands.NAMES (read instead of scanning the package at start) lists each module."""
    from pathlib import Path

    import debugtool.commands as commands
    from debugtool.commands import NAMES

    files = {p.stem for p in Path(commands.__file__).parent.glob("*.py") if p.stem != "__init__"}
    assert set(NAMES) == files
