"""The CLI's own behaviour: help, version, usage errors with exit 125 and one sentence."""

from __future__ import annotations

from debugtool.cli import main


def test_help_lists_commands(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "ps" in out and "inspect" in out


def test_unknown_command_is_a_usage_error(capsys) -> None:
    assert main(["frobnicate"]) == 125
    err = capsys.readouterr().err
    assert err.startswith("debugtool: ") and "frobnicate" in err
    assert "Traceback" not in err


def test_unknown_runtime_is_named(capsys) -> None:
    assert main(["ps", "--runtime", "nosuch"]) == 125
    err = capsys.readouterr().err
    assert "unknown runtime nosuch" in err or "needs" in err  # not root: privilege sentence
