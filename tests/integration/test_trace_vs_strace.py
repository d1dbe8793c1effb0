"""``debugtool trace -f`` against ``strace -f`` on the same workload of the same container process,
run one after the other, compared class by class (file, network, process, signal).

The container's shell waits on a FIFO; each write to it runs the workload once: file opens (one
that fails), a TCP connect to a listener on 127.0.0.1, a child killed with SIGTERM and waited
for. strace traces one run, debugtool the next. PIDs, addresses and timestamps differ from run
to run and are normalised away; the calls, their decoded arguments and results, and the events
(signals, exits) must be the same lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import harness
import pytest

from debugtool.trace.decode import SYSCALL_CLASSES

WORKLOAD = (
    "cat /etc/hostname >/dev/null; "
    "cat /nonexistent 2>/dev/null; "
    "nc -l -p 8080 </dev/null >/dev/null & "
    "sleep 0.5; nc 127.0.0.1 8080 </dev/null; wait $!; "
    "sleep 30 & sleep 0.5; kill -TERM $!; wait $!; "
)
SCRIPT = (
    "mkfifo /tmp/go; n=0; "
    f"while true; do read x </tmp/go; {WORKLOAD} n=$((n+1)); echo $n >/tmp/runs; done"
)

# strace: "PID [HH:MM:SS.uuuuuu ]TEXT"; debugtool: "HH:MM:SS.uuuuuu [pid  PID] TEXT"
STRACE_LINE = re.compile(r"^(\d+) +(.*)$")
OURS_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} \[pid +(\d+)\] (.*)$")
UNFINISHED = re.compile(r"^(.*?) ?<unfinished \.\.\.>$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")


def _joined(lines: list[tuple[str, str]]) -> list[str]:
    """Lines with each ``<unfinished ...>`` joined to its ``<... resumed>`` (by PID)."""
    begun: dict[str, str] = {}
    whole: list[str] = []
    for pid, text in lines:
        if m := UNFINISHED.match(text):
            begun[pid] = m[1]
            continue
        if m := RESUMED.match(text):
            head = begun.pop(pid, m[1] + "(")
            text = head + m[2]
        whole.append(text)
    return whole


def _normalised(text: str) -> str:
    text = re.sub(r"\s+= ", " = ", text)  # strace pads results to a column
    text = re.sub(r"0x[0-9a-f]+", "ADDR", text)
    text = re.sub(r"(si_pid|si_utime|si_stime)=\d+", r"\1=N", text)
    text = re.sub(r"^(kill|wait4)\(\d+", r"\1(PID", text)
    text = re.sub(
        r"^((clone|fork|vfork|wait4|getpid|getppid|rt_sigreturn)\(.*\)) = \d+$", r"\1 = PID", text
    )
    text = re.sub(r"sin_port=htons\((?!8080)\d+\)", "sin_port=htons(PORT)", text)
    return text


def _name(text: str) -> str:
    return re.split(r"[(\s]", text, maxsplit=1)[0]


# Whether the shell's SIGCHLD for the killed child lands inside its WNOHANG wait4, during its
# sigsuspend or before it changes the shell's path (a "Terminated" message with its mask set
# and restored around it; a sigsuspend interrupted): these lines come in one run and not the
# other, whichever tracer runs. So does the shell's WNOHANG wait4 that reaps a child only when
# its SIGCHLD came first (it returns the PID in one run, 0 or nothing in the other).
RACY = re.compile(
    r"^(rt_sigprocmask\(SIG_SETMASK, |rt_sigsuspend\(|rt_sigreturn\(.*EINTR|wait4\(-1, .*WNOHANG)"
)


def _by_class(texts: list[str], klass: str) -> set[str]:
    names = SYSCALL_CLASSES[klass]
    chosen = set()
    for text in texts:
        if RACY.match(text):
            continue
        if text.startswith(("+++", "---")):
            if klass in ("process", "signal"):
                chosen.add(_normalised(text))
        elif _name(text) in names:
            chosen.add(_normalised(text))
    return chosen


def _runs(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/root/tmp/runs").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _traced(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    return re.search(r"^TracerPid:\t0$", status, re.M) is None


def _run_once(container: harness.Started, argv: list[str]) -> None:
    """Start a tracer, let the workload run once, stop the tracer with SIGINT."""
    before = _runs(container.pid)
    tracer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        harness.wait_for(lambda: _traced(container.pid), f"{argv[0]} did not attach")
        time.sleep(0.3)  # debugtool attaches, then starts its loop
        fifo = os.open(f"/proc/{container.pid}/root/tmp/go", os.O_WRONLY)
        os.write(fifo, b"go\n")
        os.close(fifo)
        harness.wait_for(lambda: _runs(container.pid) > before, "the workload did not finish")
        time.sleep(0.3)
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=30)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    assert tracer.returncode in (0, -signal.SIGINT), err  # strace re-raises SIGINT


@pytest.fixture(scope="module")
def both(module_containers: harness.Containers, tmp_path_factory) -> tuple[list[str], list[str]]:
    c = module_containers.docker(cmd=("/bin/sh", "-c", SCRIPT))
    harness.wait_for(lambda: Path(f"/proc/{c.pid}/root/tmp/go").exists(), "no FIFO")
    work = tmp_path_factory.mktemp("strace")
    theirs, ours = work / "strace.txt", work / "debugtool.txt"
    _run_once(c, ["strace", "-f", "-p", str(c.pid), "-o", str(theirs)])
    _run_once(c, [sys.executable, "-m", "debugtool", "trace", c.id, "-f", "-o", str(ours)])
    strace_lines = [
        (m[1], m[2]) for m in map(STRACE_LINE.match, theirs.read_text().splitlines()) if m
    ]
    our_lines = [(m[1], m[2]) for m in map(OURS_LINE.match, ours.read_text().splitlines()) if m]
    return _joined(strace_lines), _joined(our_lines)


@pytest.mark.parametrize("klass", ["file", "network", "process", "signal"])
def test_lines_match_strace_class_by_class(both: tuple[list[str], list[str]], klass: str) -> None:
    theirs, ours = (_by_class(lines, klass) for lines in both)
    assert theirs, f"strace showed no {klass} syscall"
    assert theirs - ours == set() and ours - theirs == set(), (
        f"only strace: {sorted(theirs - ours)}\nonly debugtool: {sorted(ours - theirs)}"
    )


def test_the_workload_shows_what_strace_decodes(both: tuple[list[str], list[str]]) -> None:
    # Not only equal: the decoded forms the issue names are there.
    _, ours = both
    text = "\n".join(ours)
    assert 'openat(AT_FDCWD, "/etc/hostname", O_RDONLY' in text
    assert "= -1 ENOENT (No such file or directory)" in text
    assert 'sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0' in text
    assert "socket(AF_INET" in text and "SOCK_STREAM" in text
    assert re.search(r"kill\(\d+, SIGTERM\) = 0", text)
    assert "+++ killed by SIGTERM +++" in text
    assert "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED" in text
    assert "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGTERM}]" in text
    assert "+++ exited with 0 +++" in text
