"""The system configuration file: absent is empty, present is obeyed, broken stops the command."""

from __future__ import annotations

import os

import pytest

from debugtool import config


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("DEBUGTOOL_CONFIG", str(tmp_path / "config.toml"))
    config.reset()
    yield
    config.reset()


def test_absent_file_is_an_empty_configuration(tmp_path):
    assert config.load() == {}
    assert config.section("audit") == {}


def test_tables_are_read(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[audit]\nrequire_reason = true\n[redact]\nkeys = ["x"]\n'
    )
    assert config.section("audit") == {"require_reason": True}
    assert config.section("redact") == {"keys": ["x"]}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[audit\n", "not valid TOML"),
        ('audit = "yes"\n', "[audit] is not a table"),
        (b"\xff\n", "not valid TOML"),
    ],
)
def test_a_broken_file_stops_with_one_sentence(tmp_path, text, reason):
    target = tmp_path / "config.toml"
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(config.ConfigError) as err:
        config.section("audit")
    assert reason in str(err.value)
    assert str(target) in str(err.value)


def test_not_a_regular_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "config.toml")
    with pytest.raises(config.ConfigError, match="not a regular file"):
        config.load()


def test_a_symlink_is_not_followed(tmp_path):
    (tmp_path / "real.toml").write_text("[audit]\n")
    (tmp_path / "config.toml").symlink_to(tmp_path / "real.toml")
    with pytest.raises(config.ConfigError):
        config.load()
