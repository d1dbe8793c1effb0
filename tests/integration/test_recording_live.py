"""Session recordings end to end: real shells in tmux, in ns mode and in runtime mode on Docker
(its Engine API), podman, runc and containerd (their clients).

Each session types three commands whose output differs from what was typed (``echo A$((1+1))B``
prints ``A2B``) and a password with echo off (``read -s``). The recording must hold the
commands and their output but not the password, match the SHA-256 of its end record, replay in
a fresh pane as it was shown, and print as text with control sequences visible. A recording of
hostile output (title, OSC 52 clipboard, DCS) must change nothing on replay; the cap truncates
with a marker while the session goes on; an exec without a terminal writes no recording.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import shutil
import sys
import time
import uuid
from pathlib import Path

import harness
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOCKET = f"dt-recording-test-{os.getpid()}"
PASSWORD = "hunter2-" + uuid.uuid4().hex[:8]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


tmux = functools.partial(harness.tmux, SOCKET)


@pytest.fixture(scope="module", autouse=True)
def tmux_server():
    """The server, kept up by an idle session, with panes that stay after their command ends
    (set before any pane starts, so a command that ends at once still leaves its screen)."""
    assert tmux("new-session", "-d", "-s", "keep", "sleep 100000").returncode == 0
    tmux("set-option", "-g", "remain-on-exit", "on")
    tmux("set-option", "-g", "set-clipboard", "on")  # OSC 52 would fill a paste buffer
    yield
    tmux("kill-server")


class Pane:
    """One tmux session of this test's own server, running one command line."""

    def __init__(self, command: str, env: dict[str, str], width: int = 100) -> None:
        self.name = f"rec-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        line = f"cd {shlex.quote(str(ROOT))} && exec env {exports} {command}"
        started = tmux("new-session", "-d", "-x", str(width), "-y", "40", "-s", self.name, line)
        assert started.returncode == 0, started.stderr

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-S", "-200", "-t", self.name).stdout

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; the pane showed:\n{shown}")

    def type(self, line: str) -> None:
        tmux("send-keys", "-t", self.name, "-l", line)
        tmux("send-keys", "-t", self.name, "Enter")

    def dead(self) -> bool:
        return tmux("display", "-p", "-t", self.name, "#{pane_dead}").stdout.strip() == "1"

    def title(self) -> str:
        return tmux("display", "-p", "-t", self.name, "#{pane_title}").stdout.strip()

    def close(self) -> None:
        tmux("kill-session", "-t", self.name)


def debugtool(args: str) -> str:
    return f"{shlex.quote(sys.executable)} -m debugtool {args}"


@pytest.fixture
def where(tmp_path: Path) -> dict[str, str]:
    return {
        "DEBUGTOOL_AUDIT_LOG": str(tmp_path / "audit" / "audit.jsonl"),
        "DEBUGTOOL_CONFIG": str(tmp_path / "config.toml"),
        "TERM": "xterm-256color",
    }


def end_records(where: dict[str, str]) -> list[dict]:
    log = Path(where["DEBUGTOOL_AUDIT_LOG"])
    return [r for r in map(json.loads, log.read_text().splitlines()) if r["phase"] == "end"]


def shell_session(target: str, mode: str, where: dict[str, str]) -> dict:
    """Run ``debugtool shell`` in tmux, type three commands and a hidden password; return the
    session's end record."""
    pane = Pane(debugtool(f"shell -q --mode {mode} {target}"), where)
    try:
        pane.wait_for("/ #")
        pane.type("echo A$((1+1))B")
        pane.wait_for("A2B")
        pane.type("echo $((6*7))-answer")
        pane.wait_for("42-answer")
        pane.type("read -s secret; echo got-${#secret}-chars")
        time.sleep(0.5)  # read has turned echo off
        pane.type(PASSWORD)
        pane.wait_for(f"got-{len(PASSWORD)}-chars")
        pane.type("echo C$((3*3))D")
        pane.wait_for("C9D")
        assert PASSWORD not in pane.screen()  # echo was off in the session itself
        pane.type("exit")
        harness.wait_for(pane.dead, "the shell did not end")
    finally:
        pane.close()
    (record,) = end_records(where)
    return record


@pytest.mark.parametrize(
    ("runtime", "mode"),
    [
        ("docker", "ns"),
        ("docker", "runtime"),  # the Engine API's hijacked stream
        ("podman", "runtime"),  # the runtime's client on a pty of debugtool's
        ("runc", "runtime"),
        ("containerd", "runtime"),  # ctr task exec --tty
    ],
)
def test_a_shell_session_is_recorded_replayed_and_shown(
    containers: harness.Containers, where: dict[str, str], runtime: str, mode: str
) -> None:
    started = getattr(containers, runtime)()
    target = f"{runtime}:{started.name}"
    if runtime == "containerd":
        target = f"containerd:{harness.CTR_NAMESPACE}/{started.name}"
    record = shell_session(target, mode, where)
    assert record["mode"] == mode and record["tty"] is True and record["exit_code"] == 0

    base = Path(where["DEBUGTOOL_AUDIT_LOG"]).parent
    path = base / record["recording"]
    assert record["recording"] == f"recordings/{record['session']}.cast"
    data = path.read_bytes()
    assert record["recording_sha256"] == hashlib.sha256(data).hexdigest()
    assert record["recording_bytes"] == len(data)
    assert record["recording_truncated"] is False
    assert (os.stat(path).st_mode & 0o777, os.stat(path.parent).st_mode & 0o777) == (0o600, 0o700)
    header, *events = [json.loads(line) for line in data.decode().splitlines()]
    assert header["version"] == 2 and header["width"] == 100 and header["height"] == 40
    output = "".join(e[2] for e in events if e[1] == "o")
    for text in ("echo A$((1+1))B", "A2B", "echo $((6*7))-answer", "42-answer", "C9D"):
        assert text in output
    assert {e[1] for e in events} == {"o"}  # no input recorded without --record-input
    assert PASSWORD.encode() not in data

    # audit replay --fast, in a fresh pane, reproduces the screen (by a prefix of the id).
    replay = Pane(debugtool(f"audit replay --fast {record['session'][:8]}"), where)
    try:
        harness.wait_for(replay.dead, "the replay did not end")
        shown = replay.screen()
    finally:
        replay.close()
    for text in ("/ # echo A$((1+1))B", "A2B", "42-answer", "C9D", f"got-{len(PASSWORD)}-chars"):
        assert text in shown
    assert PASSWORD not in shown

    # audit show: the transcript as text, control sequences visible.
    show = harness.run_cli("audit", "show", record["session"], env=where)
    assert show.returncode == 0, show.stderr
    assert "A2B" in show.stdout and "echo C$((3*3))D" in show.stdout
    assert "\x1b" not in show.stdout and "\\x1b[6n" in show.stdout  # busybox's cursor query
    as_json = json.loads(
        harness.run_cli("audit", "show", "--json", record["session"], env=where).stdout
    )
    assert as_json["sha256_matches_record"] is True and "C9D" in as_json["transcript"]


def test_input_is_recorded_with_record_input(
    containers: harness.Containers, where: dict[str, str]
) -> None:
    started = containers.docker()
    pane = Pane(debugtool(f"shell -q --mode ns --record-input {started.id}"), where)
    try:
        pane.wait_for("/ #")
        pane.type("echo typed-$((2+2))")
        pane.wait_for("typed-4")
        pane.type("exit")
        harness.wait_for(pane.dead, "the shell did not end")
    finally:
        pane.close()
    (record,) = end_records(where)
    path = Path(where["DEBUGTOOL_AUDIT_LOG"]).parent / record["recording"]
    events = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    typed = "".join(e[2] for e in events if e[1] == "i")
    assert "echo typed-$((2+2))\r" in typed


HOSTILE = (
    r"printf 'x\033]0;PWNED-TITLE\007\033]52;c;UFdORUQtQ0xJUAo=\007"
    r"\033P+q544e\033\\\033[?1049h\033[6ny\n'; echo done-$((5+5))"
)


def test_a_hostile_recording_is_neutered_by_replay(
    containers: harness.Containers, where: dict[str, str], tmp_path: Path
) -> None:
    started = containers.docker()
    pane = Pane(debugtool(f"shell -q --mode runtime docker:{started.name}"), where)
    try:
        pane.wait_for("/ #")
        pane.type(HOSTILE)
        pane.wait_for("done-10")
        pane.type("exit")
        harness.wait_for(pane.dead, "the shell did not end")
    finally:
        pane.close()
    tmux("delete-buffer")  # what the live session's OSC 52 put there
    (record,) = end_records(where)
    path = Path(where["DEBUGTOOL_AUDIT_LOG"]).parent / record["recording"]
    assert b"\\u001b]52;c;" in path.read_bytes()  # the recording holds the sequences as sent

    # The same bytes played raw (cat) do take the title and the clipboard: the checks can fail.
    raw = tmp_path / "raw"
    events = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    raw.write_text("".join(e[2] for e in events if e[1] == "o"))
    control = Pane(f"cat {raw}", where)
    try:
        harness.wait_for(control.dead, "cat did not end")
        assert control.title() == "PWNED-TITLE"
        assert "PWNED-CLIP" in tmux("show-buffer").stdout
    finally:
        control.close()
    tmux("delete-buffer")

    replay = Pane(debugtool(f"audit replay --fast {record['session']}"), where)
    try:
        harness.wait_for(replay.dead, "the replay did not end")
        shown = replay.screen()
        assert "done-10" in shown and "xy" in shown
        assert replay.title() != "PWNED-TITLE"
        assert tmux("show-buffer").returncode != 0  # no buffer: the clipboard was not written
        assert "control sequences of the recording were not replayed" in shown
    finally:
        replay.close()


def test_the_cap_truncates_with_a_marker_and_the_session_goes_on(
    containers: harness.Containers, where: dict[str, str]
) -> None:
    Path(where["DEBUGTOOL_CONFIG"]).write_text("[audit]\nrecording_limit = 16384\n")
    started = containers.docker()
    pane = Pane(debugtool(f"shell -q --mode ns {started.id}"), where)
    try:
        pane.wait_for("/ #")
        pane.type("seq 1 20000 | tail -n 1")
        pane.wait_for("\n20000")
        pane.type("seq 1 5000")
        pane.type("echo after-$((1+2))-cap")
        pane.wait_for("after-3-cap")  # the session went on past the cap
        pane.type("exit")
        harness.wait_for(pane.dead, "the shell did not end")
    finally:
        pane.close()
    (record,) = end_records(where)
    path = Path(where["DEBUGTOOL_AUDIT_LOG"]).parent / record["recording"]
    assert record["exit_code"] == 0 and record["recording_truncated"] is True
    assert path.stat().st_size == record["recording_bytes"] <= 16384
    events = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert events[-1][1] == "m" and "limit of 16384 bytes" in events[-1][2]
    assert "after-3-cap" not in "".join(e[2] for e in events)
    show = harness.run_cli("audit", "show", record["session"], env=where)
    assert "limit of 16384 bytes" in show.stdout


def test_an_exec_without_a_terminal_is_not_recorded(
    containers: harness.Containers, where: dict[str, str]
) -> None:
    started = containers.docker()
    for mode in ("ns", "runtime"):
        result = harness.run_cli(
            "exec", "-q", "--mode", mode, started.id, "--", "echo", "hi", env=where
        )
        assert result.returncode == 0 and result.stdout == "hi\n", result.stderr
        # -t without a terminal on stdin is not a terminal session either.
        result = harness.run_cli("exec", "-q", "-t", started.id, "--", "echo", "hi", env=where)
        assert result.returncode == 0, result.stderr
    records = end_records(where)
    assert len(records) == 4 and all(r["recording"] == "" for r in records)
    assert not (Path(where["DEBUGTOOL_AUDIT_LOG"]).parent / "recordings").exists()
    show = harness.run_cli("audit", "show", records[0]["session"], env=where)
    assert show.returncode == 125 and "has no recording" in show.stderr


def writers_of(name: str) -> list[int]:
    """Return the PIDs of recording writers whose header names the container ``name``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"write_events" in cmdline and name.encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_a_killed_debugtool_still_leaves_a_whole_recording(
    containers: harness.Containers, where: dict[str, str]
) -> None:
    started = containers.docker()
    pane = Pane(debugtool(f"shell -q --mode ns docker:{started.name}"), where)
    try:
        pane.wait_for("/ #")
        pane.type("echo before-$((3+4))-kill")
        pane.wait_for("before-7-kill")
        log = Path(where["DEBUGTOOL_AUDIT_LOG"])
        (start,) = [json.loads(line) for line in log.read_text().splitlines()]
        path = log.parent / f"recordings/{start['session']}.cast"
        # Quiet for 0.1 s, the relay hands it over; the writer writes it out once idle.
        harness.wait_for(lambda: b"before-7-kill" in path.read_bytes(), "it was not written")
        assert writers_of(started.name)  # the session's writer runs
        pane.type("echo after-$((3+4))-kill")
        pane.wait_for("after-7-kill")
        os.kill(start["debugtool_pid"], 9)
        harness.wait_for(lambda: not writers_of(started.name), "the recording's writer stayed")
    finally:
        pane.close()
    assert len(log.read_text().splitlines()) == 1  # killed: no end record
    # The writer finished the file with what it was given: every line whole.
    events = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert "echo before-$((3+4))-kill" in "".join(e[2] for e in events)
    show = harness.run_cli("audit", "show", start["session"][:10], env=where)
    assert show.returncode == 0 and "before-7-kill" in show.stdout, show.stderr


def test_the_tuis_shell_is_recorded(containers: harness.Containers, where: dict[str, str]) -> None:
    """The TUI's ``e`` runs ``debugtool shell`` on the real terminal: recorded like any shell."""
    started = containers.docker()
    tui = Pane(debugtool("tui"), where, width=120)
    try:
        tui.wait_for(started.name)
        tui.wait_for("? Help")
        tmux("send-keys", "-t", tui.name, "/")
        tui.wait_for("filter containers")
        tmux("send-keys", "-t", tui.name, "-l", started.name)
        tmux("send-keys", "-t", tui.name, "Enter")
        tui.wait_for(f"1 match '{started.name}'")
        tmux("send-keys", "-t", tui.name, "e")
        tui.wait_for("Open a shell in")  # the TUI asks why: the reason goes to the audit log
        tmux("send-keys", "-t", tui.name, "-l", "INC-42: recording check")
        tmux("send-keys", "-t", tui.name, "Enter")
        tui.wait_for("/ #")
        tui.type("echo from-the-tui-$((2*21))")
        tui.wait_for("from-the-tui-42")
        tui.type("exit")
        tui.wait_for(f"1 match '{started.name}'")  # back in the TUI
        tmux("send-keys", "-t", tui.name, "q")
        harness.wait_for(tui.dead, "q did not quit the TUI")
    finally:
        tui.close()
    (record,) = end_records(where)
    assert record["target_id"] == started.id and record["tty"] is True
    assert record["reason"] == "INC-42: recording check"
    path = Path(where["DEBUGTOOL_AUDIT_LOG"]).parent / record["recording"]
    assert record["recording_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "from-the-tui-42" in path.read_text()


def test_ctrl_c_stops_a_replay_cleanly(where: dict[str, str], monkeypatch) -> None:
    from debugtool import audit, config, recording

    for key, value in where.items():
        monkeypatch.setenv(key, value)
    config.reset()
    session = audit.Session(audit.Record(action="exec", target_name="web", tty=True))
    session.start()
    recorder = recording.attach(session, (24, 80))
    assert recorder is not None
    recorder.output(b"\x1b[1mfirst-line\r\n")
    time.sleep(0.3)  # a pause, replayed 1,000 times as long
    recorder.output(b"second-line\r\n")
    session.end(0)
    config.reset()
    # stderr and the exit code to files: tmux may mark a pane dead before it has drawn the last
    # bytes written just before the process exited, and before (or without) learning its exit
    # status (both seen under load). The shell that records the code ignores Ctrl-C with a
    # handler of its own (':'), which exec resets, so the replay gets Ctrl-C as a person's would.
    where_to = Path(where["DEBUGTOOL_AUDIT_LOG"]).parent
    errors, exit_code = where_to / "replay.err", where_to / "replay.code"
    replay = debugtool(f"audit replay --speed 0.001 {session.record.session}")
    script = (
        f"trap : INT; {replay} 2>{shlex.quote(str(errors))}; echo $? >{shlex.quote(str(exit_code))}"
    )
    pane = Pane(f"sh -c {shlex.quote(script)}", where)
    try:
        pane.wait_for("first-line")
        tmux("send-keys", "-t", pane.name, "C-c")
        harness.wait_for(exit_code.exists, "Ctrl-C did not stop the replay")
        harness.wait_for(lambda: exit_code.read_text().strip() != "", "no exit code was written")
        shown = pane.screen()
    finally:
        pane.close()
    said = errors.read_text()
    assert "replay stopped" in said and "Traceback" not in said + shown
    assert "second-line" not in shown
    assert exit_code.read_text().strip() == "130"
