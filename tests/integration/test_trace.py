"""``debugtool trace`` on real Docker containers: decoding, filters, summary, JSON, and that every
way out (Ctrl-C, SIGTERM, --duration, --count, an exception, SIGKILL) leaves the target running and
untraced."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import harness
import pytest

from debugtool import procfs
from debugtool.nsjoin import Namespace

# A listener on 127.0.0.1:8080 inside the container (busybox nc: -ll keeps listening, -e runs a
# program per connection; it has no -k/-z/-s), and a loop that opens /etc/hostname, connects to
# the listener and bumps a counter the tests read through /proc/PID/root/tmp.
WORKLOAD = (
    "trap 'echo $i >/tmp/usr1' USR1; nc -ll -p 8080 -e /bin/true & i=0; "
    "while true; do cat /etc/hostname >/dev/null; nc 127.0.0.1 8080 </dev/null || true; "
    "i=$((i+1)); echo $i >/tmp/counter; sleep 0.2; done"
)
LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} \[pid +(\d+)\] (\w+)\((.*)\) = (.*)$")
# Every other line: an event (+++ exited, --- SIGCHLD), or a call cut by another's line and
# resumed after it, or left when detaching.
OTHER = re.compile(
    r"^\d\d:\d\d:\d\d\.\d{6} \[pid +(\d+)\] "
    r"(\+\+\+ .* \+\+\+|--- .* ---|\w+\(.* <(unfinished|detached) \.\.\.>.*|<\.\.\. \w+ resumed>.*)$"
)


def _calls(stdout: str) -> list[re.Match[str]]:
    """The whole syscall lines of a trace; every other line must be an event or a cut call."""
    found = []
    for line in stdout.splitlines():
        m = LINE.match(line)
        if m:
            found.append(m)
        else:
            assert OTHER.match(line), line
    return found


@pytest.fixture(scope="module")
def workload(module_containers: harness.Containers) -> harness.Started:
    c = module_containers.docker(cmd=("/bin/sh", "-c", WORKLOAD))
    harness.wait_for(lambda: _counter(c.pid) >= 2, "the workload did not start counting")
    return c


@pytest.fixture
def audit_env(tmp_path: Path) -> dict[str, str]:
    return {"DEBUGTOOL_AUDIT_LOG": str(tmp_path / "audit.jsonl")}


def _counter(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/root/tmp/counter").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _container_processes(pid: int) -> list[int]:
    pidns = os.stat(f"/proc/{pid}/ns/pid").st_ino
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}/ns/pid").st_ino == pidns:
                    found.append(int(name))
            except OSError:
                continue
    return found


def assert_running_untraced(pid: int) -> None:
    """The container's processes are neither stopped nor traced, its loop goes on and its
    listener still answers."""
    for p in _container_processes(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:
            continue  # a short-lived cat or nc that just finished
        for tid in tids:
            try:
                status = procfs.parse_status(procfs.read_text(f"{p}/task/{tid}", "status"))
            except procfs.ProcessGone:
                continue  # a short-lived cat or nc that just finished
            assert status["TracerPid"] == "0", (p, status["Name"], status["TracerPid"])
            assert status["State"][0] not in "tT", (p, status["Name"], status["State"])
    before = _counter(pid)
    harness.wait_for(lambda: _counter(pid) >= before + 2, "the container's loop stopped counting")
    with Namespace(pid, "net"):
        conn = socket.create_connection(("127.0.0.1", 8080), timeout=10)
    conn.close()


def _audit(env: dict[str, str]) -> list[dict]:
    """Each trace session's end record, with its details (PIDs, counts) at the top level."""
    from debugtool import audit

    records = audit.sessions(audit.read(env["DEBUGTOOL_AUDIT_LOG"]))
    return [{**r.to_dict(), **r.details} for r in records]


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "debugtool", "trace", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _wait_tracing(out: Path) -> None:
    harness.wait_for(lambda: out.exists() and out.stat().st_size > 0, "the trace printed nothing")


# --- what a trace shows --------------------------------------------------------------------


def test_follow_decodes_paths_and_addresses_with_container_pids(
    workload: harness.Started, cli, audit_env: dict[str, str]
) -> None:
    result = cli("trace", workload.id, "-f", "--duration", "3", env=audit_env)
    assert result.returncode == 0, result.stderr
    lines = _calls(result.stdout)
    opens = [m for m in lines if m[2] == "openat" and '"/etc/hostname"' in m[3]]
    connects = [
        m
        for m in lines
        if m[2] == "connect" and 'sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")' in m[3]
    ]
    assert opens and connects
    assert opens[0][3].startswith('AT_FDCWD, "/etc/hostname", O_RDONLY')
    assert "+++ exited with 0 +++" in result.stdout  # cat and nc end
    assert "Process 1 attached" in result.stderr
    assert connects[0][4] == "0"
    end = _audit(audit_env)[-1]
    assert end["phase"] == "end" and end["exit"] == "duration"
    host_of = {int(c): int(h) for h, c in end["pids"].items()}  # container PID -> host PID
    shown = {int(m[1]) for m in lines if m}
    assert 1 in shown  # the container's init, host PID workload.pid
    assert host_of[1] == workload.pid
    for m in opens + connects:
        cpid = int(m[1])
        assert cpid in host_of and host_of[cpid] != cpid  # the container's PID, not the host's
        assert cpid != 1  # cat and nc are children, followed with -f
    assert {"openat", "connect"} <= set(end["syscalls_seen"])
    assert end["target_id"] == workload.id and end["action"] == "trace"
    listed = cli("audit", "--target", workload.id[:12], "--json", env=audit_env)
    assert any(e.get("action") == "trace" for e in json.loads(listed.stdout))
    assert_running_untraced(workload.pid)


def test_filter_by_class_and_name(workload: harness.Started, cli, audit_env) -> None:
    result = cli("trace", workload.id, "-f", "-e", "network", "--duration", "3", env=audit_env)
    assert result.returncode == 0, result.stderr
    names = {m[2] for m in _calls(result.stdout)}
    assert "connect" in names and "socket" in names
    assert names <= {"socket", "connect", "shutdown", "setsockopt", "getsockopt", "bind"}
    result = cli(
        "trace", workload.id, "-f", "-e", "openat,wait4,execve", "--duration", "2", env=audit_env
    )
    assert result.returncode == 0, result.stderr
    names = {m[2] for m in _calls(result.stdout)}
    assert names == {"openat", "wait4", "execve"}
    assert 'execve("/proc/self/exe", ["cat", "/etc/hostname"], 0x' in result.stdout


def test_summary_counts(workload: harness.Started, cli, audit_env) -> None:
    result = cli("trace", workload.id, "-f", "--summary", "--duration", "3", env=audit_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[-3:] == ["calls", "errors", "syscall"]
    rows = {line.split()[-1]: line.split() for line in lines[2:-2]}
    assert int(rows["connect"][3]) >= 3  # one connect per 0.2 s loop
    assert int(rows["openat"][3]) >= 3
    assert lines[-1].split()[-1] == "total"
    assert int(lines[-1].split()[3]) == sum(int(r[3]) for r in rows.values())
    assert not any(LINE.match(line) for line in lines)  # no per-call lines with --summary
    result = cli(
        "trace", workload.id, "-f", "--summary", "--json", "--duration", "2", env=audit_env
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["reason"] == "duration"
    by_name = {row["syscall"]: row for row in report["syscalls"]}
    assert by_name["connect"]["calls"] >= 2 and by_name["connect"]["errors"] == 0
    assert 1 in report["pids"].values()  # host PID -> container PID, the init among them


def test_json_lines_parse(workload: harness.Started, cli, audit_env) -> None:
    result = cli("trace", workload.id, "-f", "--json", "--duration", "2", env=audit_env)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    calls = [r for r in records if r["type"] == "syscall"]
    assert calls
    connect = next(r for r in calls if r["syscall"] == "connect")
    assert connect["return"] == 0 and connect["errno"] is None
    assert "sin_port=htons(8080)" in connect["call"]
    assert connect["args"][1] == {"sa_family": "AF_INET", "sin_port": 8080, "sin_addr": "127.0.0.1"}
    assert connect["duration"] >= 0
    assert connect["pid"] != connect["host_pid"]
    assert set(calls[0]) >= {"time", "pid", "host_pid", "syscall", "args", "call", "return"}
    events = {r["type"] for r in records} - {"syscall"}
    assert {"attached", "exited"} <= events
    exited = next(r for r in records if r["type"] == "exited")
    assert exited["status"] == 0


def test_count_stops_and_output_file(
    workload: harness.Started, cli, audit_env, tmp_path: Path
) -> None:
    out = tmp_path / "trace.txt"
    result = cli("trace", workload.id, "-f", "--count", "7", "-o", str(out), env=audit_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    text = out.read_text()
    lines = text.splitlines()
    # A call that never returned to the tracer is "unfinished": its tracee exited inside it
    # ("exit_group(0) = ?", "<... read resumed>) = ?") or it was left when detaching.
    unfinished = [line for line in lines if line.endswith(" = ?") or "<detached ...>" in line]
    finished = [m for m in _calls(text) if m[4] != "?"]
    resumed = [line for line in lines if " resumed>" in line and line not in unfinished]
    assert len(finished) + len(resumed) == 7
    assert "--count reached" in result.stderr
    end = _audit(audit_env)[-1]
    assert end["syscalls"] == 7
    # Every line in the file is counted, the unfinished ones apart.
    left = len(unfinished)
    assert end["unfinished"] == left
    shown = f"{7 + left} syscalls" + (f" ({left} unfinished)" if left else "")
    assert shown in result.stderr
    assert_running_untraced(workload.pid)


def test_pid_inside_the_container(workload: harness.Started, cli, audit_env) -> None:
    listener = next(
        p for p in _container_processes(workload.pid) if procfs.cmdline(p)[:2] == ["nc", "-ll"]
    )
    cpid = procfs.nspid(procfs.parse_status(procfs.read_text(listener, "status")))[-1]
    result = cli("trace", workload.id, "--pid", str(cpid), "--duration", "2", env=audit_env)
    assert result.returncode == 0, result.stderr
    shown = {m[1] for m in _calls(result.stdout)}
    assert shown == {str(cpid)}  # accept/poll of the listener, under its container PID
    assert _audit(audit_env)[-1]["pid"] == listener
    result = cli("trace", workload.id, "--pid", "4242", "--duration", "1", env=audit_env)
    assert result.returncode == 125
    assert "no process has PID 4242 inside the container" in result.stderr


def test_lines_are_written_while_tracing(workload: harness.Started, audit_env, tmp_path) -> None:
    # The listener makes a few syscalls per connection: far too few to fill the output buffer,
    # so its lines show up only if debugtool flushes while it waits.
    listener = next(
        p for p in _container_processes(workload.pid) if procfs.cmdline(p)[:2] == ["nc", "-ll"]
    )
    cpid = procfs.nspid(procfs.parse_status(procfs.read_text(listener, "status")))[-1]
    out = tmp_path / "trace.txt"
    proc = _start(workload.id, "--pid", str(cpid), "-o", str(out), env=audit_env)
    try:
        harness.wait_for(
            lambda: out.exists() and "accept" in out.read_text(), "no line was flushed"
        )
        assert proc.poll() is None  # still tracing
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


# --- every way out leaves the target running -----------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_ends_the_trace_and_detaches(
    workload: harness.Started, audit_env, tmp_path: Path, signum: int
) -> None:
    out = tmp_path / "trace.txt"
    proc = _start(workload.id, "-f", "-o", str(out), env=audit_env)
    try:
        _wait_tracing(out)
        time.sleep(0.5)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "all traced processes detached" in err
    assert _audit(audit_env)[-1]["exit"] == signal.Signals(signum).name
    assert_running_untraced(workload.pid)


def test_duration_detaches(workload: harness.Started, cli, audit_env) -> None:
    result = cli("trace", workload.id, "-f", "--duration", "1.5", "-e", "file", env=audit_env)
    assert result.returncode == 0, result.stderr
    assert "--duration reached" in result.stderr
    assert_running_untraced(workload.pid)


def test_exception_in_the_tracer_detaches(workload: harness.Started, cli, audit_env) -> None:
    env = {**audit_env, "DEBUGTOOL_TRACE_FAULT_AFTER": "150"}
    result = cli("trace", workload.id, "-f", env=env)
    assert result.returncode == 125
    assert "injected fault after 150 stops" in result.stderr
    assert "Traceback" not in result.stderr
    assert _audit(audit_env)[-1]["exit"] == "error"
    assert_running_untraced(workload.pid)


def _dead(pid: str) -> bool:
    """Gone, or a zombie: the test process may have become a subreaper (the runc harness makes
    it one), and then an orphan of the killed debugtool waits there to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def test_sigkill_of_debugtool_leaves_the_target_running(
    workload: harness.Started, audit_env, tmp_path: Path
) -> None:
    out = tmp_path / "trace.txt"
    proc = _start(workload.id, "-f", "-o", str(out), env=audit_env)
    try:
        _wait_tracing(out)
        time.sleep(0.5)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # The kernel detached the tracees (no PTRACE_O_EXITKILL); the waker child died with us.
    assert_running_untraced(workload.pid)
    for child in children:
        harness.wait_for(lambda c=child: _dead(c), "the waker outlived us")


def test_signals_reach_the_traced_process(workload: harness.Started, audit_env, tmp_path) -> None:
    out = tmp_path / "trace.txt"
    usr1 = Path(f"/proc/{workload.pid}/root/tmp/usr1")
    assert not usr1.exists()
    proc = _start(workload.id, "-f", "-o", str(out), env=audit_env)
    try:
        _wait_tracing(out)
        os.kill(workload.pid, signal.SIGUSR1)  # delivered through a signal-delivery-stop
        harness.wait_for(usr1.exists, "the shell's USR1 trap never ran: the signal was swallowed")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "SIGUSR1" in out.read_text()  # rt_sigreturn/wait4 around the trap show the signal
    assert_running_untraced(workload.pid)


def test_group_stop_is_kept_not_turned_into_a_ptrace_stop(
    workload: harness.Started, audit_env, tmp_path: Path
) -> None:
    listener = next(
        p for p in _container_processes(workload.pid) if procfs.cmdline(p)[:2] == ["nc", "-ll"]
    )
    cpid = procfs.nspid(procfs.parse_status(procfs.read_text(listener, "status")))[-1]
    out = tmp_path / "trace.txt"
    proc = _start(workload.id, "--pid", str(cpid), "-o", str(out), env=audit_env)
    try:
        harness.wait_for(lambda: _tracer(listener) == proc.pid, "debugtool did not attach")
        os.kill(listener, signal.SIGSTOP)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
        # Stopped by SIGSTOP as it would be untraced ('T'), not left in a ptrace stop ('t').
        status = procfs.parse_status(procfs.read_text(listener, "status"))
        assert status["State"].startswith("T"), status["State"]
        assert status["TracerPid"] == "0"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.kill(listener, signal.SIGCONT)
    harness.wait_for(
        lambda: procfs.parse_status(procfs.read_text(listener, "status"))["State"][0] == "S",
        "the listener did not run on after SIGCONT",
    )
    assert_running_untraced(workload.pid)


THREADS = """
import os, threading, time
def work():
    while True:
        os.stat("/etc/hostname")
        time.sleep(0.05)
for _ in range(3):
    threading.Thread(target=work, daemon=True).start()
while True:
    time.sleep(1)
"""


def test_every_thread_is_attached(containers: harness.Containers, cli, audit_env) -> None:
    # Threads that exist before tracing starts are traced without -f (every /proc/PID/task).
    box = containers.sandbox(cmd=(sys.executable, "-c", THREADS))
    harness.wait_for(lambda: len(os.listdir(f"/proc/{box.pid}/task")) == 4, "threads did not start")
    result = cli(
        "trace", f"pid:{box.pid}", "-e", "stat,newfstatat", "--duration", "2", env=audit_env
    )
    assert result.returncode == 0, result.stderr
    tids = {
        m[1] for m in map(LINE.match, result.stdout.splitlines()) if m and "/etc/hostname" in m[3]
    }
    assert len(tids) == 3  # each worker thread, by its TID inside the sandbox's namespace
    assert all(int(t) < 100 for t in tids)
    for tid in os.listdir(f"/proc/{box.pid}/task"):
        assert _tracer(int(tid)) == 0


def _tracer(pid: int) -> int:
    return int(procfs.parse_status(procfs.read_text(pid, "status"))["TracerPid"])


def test_reader_going_away_ends_the_trace(workload: harness.Started, audit_env) -> None:
    # debugtool trace ... | head -n 3: a closed pipe ends the trace cleanly, detached.
    pipeline = subprocess.run(
        f"{sys.executable} -m debugtool trace {workload.id} -f | head -n 3",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **audit_env},
    )
    assert len(pipeline.stdout.splitlines()) == 3
    assert "trace ended (the output was closed)" in pipeline.stderr
    assert _audit(audit_env)[-1]["exit"] == "output closed"
    assert_running_untraced(workload.pid)


# --- refusals and endings ------------------------------------------------------------------


def test_refuses_to_trace_itself(cli, audit_env) -> None:
    # The test process is the parent of the debugtool it runs.
    result = cli("trace", f"pid:{os.getpid()}", "--duration", "1", env=audit_env)
    assert result.returncode == 125
    assert "is debugtool itself or one of its parents" in result.stderr
    assert not Path(audit_env["DEBUGTOOL_AUDIT_LOG"]).exists()  # nothing was traced


def test_refuses_a_process_strace_holds(
    containers: harness.Containers, cli, audit_env: dict[str, str]
) -> None:
    c = containers.docker(cmd=("/bin/sh", "-c", WORKLOAD))
    harness.wait_for(lambda: _counter(c.pid) >= 1, "the workload did not start")
    strace = subprocess.Popen(
        ["strace", "-p", str(c.pid), "-o", "/dev/null"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        harness.wait_for(
            lambda: (
                procfs.parse_status(procfs.read_text(c.pid, "status"))["TracerPid"]
                == str(strace.pid)
            ),
            "strace did not attach",
        )
        result = cli("trace", c.id, "--duration", "1", env=audit_env)
    finally:
        strace.terminate()
        strace.wait(timeout=30)
    assert result.returncode == 125
    assert f"already traced by process {strace.pid} (strace)" in result.stderr
    assert f"Stop that tracer (PID {strace.pid}) first" in result.stderr
    assert_running_untraced(c.pid)


def test_trace_ends_when_the_process_exits(
    containers: harness.Containers, cli, audit_env: dict[str, str]
) -> None:
    c = containers.docker(
        cmd=(
            "/bin/sh",
            "-c",
            "sleep 4; i=0; while [ $i -lt 5 ]; do cat /etc/hostname; i=$((i+1)); done",
        )
    )
    result = cli("trace", c.id, "-f", "-e", "openat,exit_group", env=audit_env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "the traced processes exited" in result.stderr
    lines = result.stdout.splitlines()
    assert sum('"/etc/hostname"' in line for line in lines) == 5
    assert re.search(r"\[pid +1\] exit_group\(0\) = \?$", lines[-2])
    assert re.search(r"\[pid +1\] \+\+\+ exited with 0 \+\+\+$", lines[-1])
    assert _audit(audit_env)[-1]["exit"] == "exited"


def test_bad_input(workload: harness.Started, cli, audit_env) -> None:
    result = cli("trace", workload.id, "-e", "opne", env=audit_env)
    assert result.returncode == 125
    assert "'opne' is neither a syscall name nor a class" in result.stderr
    result = cli("trace", workload.id, "--duration", "0", env=audit_env)
    assert result.returncode == 125
    assert "--duration must be a positive number of seconds" in result.stderr


def test_output_file_gets_every_line_and_the_count_says_so(
    containers: harness.Containers, cli, audit_env, tmp_path: Path
) -> None:
    # A process blocked in one syscall all along: the file holds that call, left unfinished
    # when detaching, and the count says one syscall, not 0.
    c = containers.docker(cmd=("/bin/sleep", "1000"))
    out = tmp_path / "trace.txt"
    result = cli("trace", c.id, "-o", str(out), "--duration", "1", env=audit_env)
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("<detached ...>")
    # Seized inside its sleep: the kernel restarts it as restart_syscall, as strace shows.
    assert re.search(r"\] (restart_syscall|clock_nanosleep|nanosleep)\(", lines[0])
    assert "1 syscalls (1 unfinished)" in result.stderr
    assert _audit(audit_env)[-1]["unfinished"] == 1
