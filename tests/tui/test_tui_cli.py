"""``debugtool tui`` on bad input: one sentence and exit code 125, never a traceback."""

from __future__ import annotations

import os

import pytest


def test_interval_too_short(cli):
    proc = cli("tui", "--interval", "0")
    assert proc.returncode == 125
    assert "--interval 0 is too short" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_bundle_file(cli, tmp_path):
    proc = cli("tui", "--bundle", str(tmp_path / "nope.tar.gz"))
    assert proc.returncode == 125
    assert "nope.tar.gz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_file_that_is_not_a_bundle(cli, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a bundle at all")
    proc = cli("tui", "--bundle", str(junk))
    assert proc.returncode == 125
    assert "junk.tar.gz" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to list containers")
def test_unknown_target(cli):
    proc = cli("tui", "no-such-container-xyz")
    assert proc.returncode == 125
    assert "no container matches 'no-such-container-xyz'" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to list containers")
def test_needs_a_terminal(cli):
    proc = cli("tui")
    assert proc.returncode == 125
    assert "debugtool tui needs a terminal." in proc.stderr


def test_help_lists_the_options(cli):
    proc = cli("tui", "--help")
    assert proc.returncode == 0
    for option in ("--bundle", "--interval", "TARGET"):
        assert option in proc.stdout
