"""The first five minutes (issue 16): close names for a mistyped target, the audit table,
the bundle subcommands' own help and the renamed options."""

from __future__ import annotations

import pytest

from debugtool import cli
from debugtool.audit import Record
from debugtool.errors import ContainerNotFound
from debugtool.model import Container
from debugtool.runtimes import Discovery
from debugtool.target import close_names, find


def containers(*names: str) -> Discovery:
    return Discovery(
        containers=[
            Container(id=f"{i:02x}" + "ab" * 31, name=n, runtime="docker", status="running")
            for i, n in enumerate(names)
        ]
    )


def test_close_names_prefer_names_holding_what_was_typed() -> None:
    assert close_names("web", ["my-web", "db", "web-frontend-2"]) == ["web-frontend-2", "my-web"]
    assert close_names("wbe", ["web", "db"]) == ["web"]  # a typo: difflib, on this path only
    assert close_names("zzz", ["web", "db"]) == []


def test_an_unknown_target_suggests_close_names() -> None:
    with pytest.raises(ContainerNotFound) as caught:
        find("web", containers("my-web", "db"))
    assert caught.value.message == "no container matches 'web'."
    assert caught.value.hint is not None and caught.value.hint.startswith("Did you mean my-web?")
    with pytest.raises(ContainerNotFound) as nothing:
        find("cache", containers("my-web", "db"))
    assert "Did you mean" not in (nothing.value.hint or "")


def test_names_in_a_bundle_match_as_live_name_first() -> None:
    # 'my' is a name here and part of another: the name wins, as on a live host.
    found = containers("my-web", "my")
    assert find("my", found, live=False).name == "my"
    assert find("my-web", found, live=False).name == "my-web"


def test_audit_shows_one_row_per_session_with_its_action_in_80_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from debugtool import views
    from debugtool.views import sessions

    common = {"user": "root", "target_id": "c69b56d6eb4c" + "0" * 52, "target_name": "my-web"}
    records = [
        Record(action="trace", epoch=1796544003.0, exit_code=0, session="a", **common,
               details={"pid": 26620, "container_pid": 1, "follow": True, "filter": "network"}),
        Record(action="exec", epoch=1796544004.0, exit_code=0, mode="toolbox", tty=True,
               interactive=True, argv=["/.debugtool/bin/sh"], session="b", **common),
        Record(action="exec", epoch=1796544005.0, exit_code=1, mode="runtime",
               argv=["cat", "/etc/os-release"], session="c", **common,
               reason="INC-4711: the web tier answers 502 since the 07:40 deploy",
               recording="recordings/c.cast", recording_sha256="0" * 64),
    ]  # fmt: skip
    views.table(sessions.COLUMNS, records, fit=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TIME", "USER", "TARGET", "ACTION", "MODE", "EXIT", "REC",
                                "REASON", "COMMAND"]  # fmt: skip
    assert len(lines) == 4
    assert "trace" in lines[1] and "pid 1 (host 26620) -f -e network" in lines[1]
    assert " shell " in lines[2] and " toolbox " in lines[2]
    assert " exec " in lines[3] and lines[3].endswith("cat /etc/os-release")
    assert " yes " in lines[3] and "INC-4711: the web tier answers…" in lines[3]
    # Every column up to REC fits in 80 (times as every absolute time is written); on an
    # 80-column terminal only the reason and the command are cut.
    assert lines[0].index("REC") <= 76, lines[0]
    monkeypatch.setenv("COLUMNS", "80")
    views.table(sessions.COLUMNS, records, fit=True)
    fitted = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in fitted), fitted
    assert [line.split()[5] for line in fitted[1:]] == ["trace", "shell", "exec"]


@pytest.mark.parametrize("action", ["verify", "show"])
def test_bundle_subcommands_print_their_own_help(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["bundle", action, "--help"])
    out = capsys.readouterr().out
    assert out.startswith(f"usage: debugtool bundle {action} ")
    assert "--collector-timeout" not in out  # the capture's options are not theirs


def test_bundle_verify_reads_its_own_options() -> None:
    args = cli.parse_args(["bundle", "verify", "b.tar.gz", "-v"])
    assert (args.action, args.file, args.verbose, args.json) == ("verify", "b.tar.gz", True, False)
    assert cli.parse_args(["bundle", "--json", "show", "b.tar.gz"]).json is True
    # A container named verify, or an option's value, is not the action.
    assert cli.parse_args(["bundle", "--", "verify"]).targets == ["verify"]
    assert cli.parse_args(["bundle", "-o", "verify", "web"]).output == "verify"
    from debugtool.errors import UsageError

    with pytest.raises(UsageError, match="unrecognized arguments: --force"):
        cli.parse_args(["bundle", "verify", "b.tar.gz", "--force"])


def test_bundle_collector_timeout_and_its_old_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.parse_args(["bundle", "web", "--collector-timeout", "5"])
    assert (args.collector_timeout, args.old_collector_timeout) == (5.0, None)
    old = cli.parse_args(["bundle", "web", "--timeout", "7"])
    assert old.old_collector_timeout == 7.0
    with pytest.raises(SystemExit):
        cli.parse_args(["bundle", "--help"])
    helptext = capsys.readouterr().out
    assert "--collector-timeout" in helptext
    assert "--timeout SECONDS" not in helptext.replace("--collector-timeout SECONDS", "")
    with pytest.raises(SystemExit):
        cli.parse_args(["--help"])
    assert "bundle --collector-timeout" in capsys.readouterr().out


def test_exec_quiet_and_context_json_options(capsys: pytest.CaptureFixture[str]) -> None:
    from debugtool.commands.exec import report_context

    quiet = cli.parse_args(["exec", "-q", "web", "--", "true"])
    assert quiet.quiet is True and report_context(quiet) is None
    alias = cli.parse_args(["exec", "--json", "web", "--", "true"])
    assert alias.json_alias is True and report_context(alias) is not None
    assert "--context-json" in capsys.readouterr().err  # the old spelling warns
    with pytest.raises(SystemExit):
        cli.parse_args(["exec", "--help"])
    helptext = capsys.readouterr().out
    assert "--context-json" in helptext and "-q, --quiet" in helptext
    assert "  --json" not in helptext  # hidden
