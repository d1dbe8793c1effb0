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
