"""Unit tests of the exec path's pure parts: users, cgroup paths, the context line, Docker's
stream framing and error wording, the child's failure reports, the pty relay, helpers."""

from __future__ import annotations

import errno
import json
import os
import struct
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.audit import Record
from debugtool.collect.cgroups import cgroup_procs_files
from debugtool.commands.exec import parse_env
from debugtool.errors import CommandNotFound, CommandNotInvokable, DebugtoolError
from debugtool.exec.joiner import Capabilities, JoinSpec, SetupFailed, parse_passwd, resolve_user
from debugtool.exec.ns import _ids, _raise_child_failure
from debugtool.exec.plan import ExecContext
from debugtool.runtimes.base import ExecRequest
from debugtool.runtimes.docker_exec import DockerExec, _Demux, _raise_start_failure
from debugtool.terminal import get_winsize, relay_pty, set_winsize

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "broken-line\n"
    "app:x:1000:1000:app user:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\nwheel:x:10:app,other\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n"


def test_passwd_parsing_skips_comments_and_broken_lines() -> None:
    names = [row[0] for row in parse_passwd(PASSWD)]
    assert names == ["root", "app", "nobody"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("app", (1000, 1000, [10, 50, 1000], "/home/app")),
        ("1000", (1000, 1000, [10, 50, 1000], "/home/app")),
        ("app:staff", (1000, 50, [10, 50], "/home/app")),
        ("app:0", (1000, 0, [0, 10, 50], "/home/app")),
        ("4242", (4242, 4242, [4242], None)),  # a numeric id the files do not know: allowed
        ("4242:4343", (4242, 4343, [4343], None)),
        (None, (0, 0, [0], "/root")),  # the target process's own ids
    ],
)
def test_resolve_user(spec: str | None, expected: tuple) -> None:
    assert resolve_user(spec, PASSWD, GROUP, (0, 0)) == expected


def test_unknown_user_or_group_is_exit_126_with_a_sentence() -> None:
    with pytest.raises(SetupFailed) as err:
        resolve_user("ghost", PASSWD, GROUP, (0, 0))
    assert err.value.code == 126
    assert str(err.value) == "user 'ghost' does not exist in the container's /etc/passwd."
    with pytest.raises(SetupFailed) as err:
        resolve_user("app:ghosts", PASSWD, GROUP, (0, 0))
    assert str(err.value) == "group 'ghosts' does not exist in the container's /etc/group."


@pytest.mark.parametrize("spec", ["99999999999", "1:99999999999", "2147483648"])
def test_a_user_id_out_of_range_is_126_not_an_overflow(spec: str) -> None:
    with pytest.raises(SetupFailed, match="out of range") as err:
        resolve_user(spec, PASSWD, GROUP, (0, 0))
    assert err.value.code == 126


def test_cgroup_procs_files_on_a_hybrid_host(fixture_text) -> None:
    cgroup = procfs.parse_cgroup(fixture_text("exec/cgroup-docker.txt"))
    files = cgroup_procs_files(
        cgroup, fixture_text("exec/mountinfo-hybrid.txt"), exists=lambda p: True
    )
    cid = cgroup[""].rsplit("/", 1)[1]
    assert f"/sys/fs/cgroup/memory/docker/{cid}/cgroup.procs" in files
    assert f"/sys/fs/cgroup/cpuacct/docker/{cid}/cgroup.procs" in files
    assert f"/sys/fs/cgroup/systemd/docker/{cid}/cgroup.procs" in files  # name=systemd
    assert f"/sys/fs/cgroup/unified/docker/{cid}/cgroup.procs" in files  # the v2 part
    assert len(files) == len(cgroup)


def test_cgroup_procs_files_on_v2_and_missing_groups(fixture_text) -> None:
    cgroup = procfs.parse_cgroup(fixture_text("exec/cgroup-v2.txt"))
    mountinfo = fixture_text("exec/mountinfo-v2.txt")
    assert cgroup_procs_files(cgroup, mountinfo, exists=lambda p: True) == [
        "/sys/fs/cgroup/system.slice/docker-abc.scope/cgroup.procs"
    ]
    # A group that no longer exists is left out (the caller says it was not joined).
    assert cgroup_procs_files(cgroup, mountinfo, exists=lambda p: False) == []
    # A controller with no hierarchy mounted on this host is skipped, not guessed.
    assert cgroup_procs_files({"rdma": "/x"}, mountinfo, exists=lambda p: True) == []


def test_capabilities_and_ids_from_status(fixture_text) -> None:
    status = procfs.parse_status(fixture_text("exec/status-docker.txt"))
    caps = Capabilities.from_status(status)
    assert caps.bounding == int(status["CapBnd"], 16) and caps.bounding != 0
    assert caps.ambient == 0
    assert _ids(status) == (0, 0)


def test_context_line() -> None:
    ctx = ExecContext(
        "ns",
        runtime="docker",
        namespaces=["net", "pid", "mnt"],
        shared=["cgroup"],
        matched=["cgroup joined", "capabilities dropped to the container's"],
        not_matched=["seccomp", "AppArmor profile docker-default (enforce)"],
    )
    assert ctx.line() == (
        "ns mode: namespaces net,pid,mnt joined (cgroup shared with the host); cgroup joined; "
        "capabilities dropped to the container's; seccomp NOT applied; "
        "AppArmor profile docker-default (enforce) NOT applied"
    )
    runtime = ExecContext("runtime", runtime="podman", matched=["all applies"])
    assert runtime.line() == "runtime mode: through podman's own exec; all applies"


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def test_docker_stream_demultiplexing_across_reads(tmp_path: Path) -> None:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    held = bytearray()
    demux = _Demux(out_w, err_w, held)
    data = frame(1, b"hello ") + frame(2, b"oops\n") + frame(1, b"world\n")
    for i in range(0, len(data), 5):  # frames split at awkward places
        demux.feed(data[i : i + 5])
    os.close(out_w)
    os.close(err_w)
    assert os.read(out_r, 100) == b"hello world\n"
    assert os.read(err_r, 100) == b"oops\n"
    assert not held


def test_docker_frames_are_written_as_they_arrive() -> None:
    """A frame header that announces 4 GiB holds nothing back: its bytes are written as they
    come (Docker's stream is not trusted to be honest about sizes)."""
    out_r, out_w = os.pipe()
    held = bytearray()
    demux = _Demux(out_w, out_w, held)
    demux.feed(struct.pack(">BxxxI", 1, 0xFFFFFFFF) + b"first part ")
    assert os.read(out_r, 100) == b"first part "
    demux.feed(b"second part")
    assert os.read(out_r, 100) == b"second part"
    assert demux.left == 0xFFFFFFFF - len(b"first part second part")
    os.close(out_w)
    assert not held


class CountingRecorder:
    """Stands in for the session's recorder: counts the chunks the relay hands over."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def idle_wait(self) -> None:
        return None

    def flush(self) -> None:
        pass

    def output(self, data: bytes) -> None:
        self.chunks.append(data)


def test_a_burst_through_dockers_stream_is_read_in_few_large_chunks(tmp_path: Path) -> None:
    """dockerd writes a burst a few hundred bytes at a time; the relay pauses between the reads
    of a burst so it gathers, rather than waking for every write."""
    import socket
    import subprocess
    import sys

    ours, theirs = socket.socketpair()
    sent = b"".join(b"%05d" % i + b"x" * 95 for i in range(4000))  # 4,000 writes of 100 bytes
    daemon = subprocess.Popen(  # as dockerd: 100 bytes a write, a write every 30 us or so
        [sys.executable, "-c",
         "import os, sys, time\ndata = sys.stdin.buffer.read()\n"
         "for at in range(0, len(data), 100):\n"
         f"    os.write({theirs.fileno()}, data[at:at + 100])\n"
         "    t = time.perf_counter()\n"
         "    while time.perf_counter() - t < 30e-6: pass"],
        stdin=subprocess.PIPE, pass_fds=(theirs.fileno(),),
    )  # fmt: skip
    theirs.close()
    out = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT, 0o600)
    recorder = CountingRecorder()
    try:
        assert daemon.stdin is not None
        daemon.stdin.write(sent)
        daemon.stdin.close()
        DockerExec(path=str(tmp_path / "no.sock"))._pump(
            ours, b"", ExecRequest(argv=["cat"], tty=True), 0, out, out, bytearray(), recorder
        )
    finally:
        daemon.wait()
        ours.close()
        os.close(out)
    assert (tmp_path / "out").read_bytes() == sent == b"".join(recorder.chunks)
    assert len(recorder.chunks) < 4000 // 4  # unpaced: about one read per write (3,764)


def test_docker_start_failure_is_held_back(tmp_path: Path) -> None:
    out_r, out_w = os.pipe()
    held = bytearray()
    demux = _Demux(out_w, out_w, held)
    message = b"OCI runtime exec failed: exec failed: unable to start container process: ..."
    demux.feed(frame(1, message))
    os.close(out_w)
    assert os.read(out_r, 100) == b""
    assert bytes(held) == message


@pytest.mark.parametrize(
    ("text", "error", "sentence"),
    [
        (
            'OCI runtime exec failed: exec failed: unable to start container process: exec: "frob": '
            "executable file not found in $PATH: unknown",
            CommandNotFound,
            "command 'frob' was not found in the container.",
        ),
        (
            'OCI runtime exec failed: exec failed: unable to start container process: exec: "frob": '
            "permission denied: unknown",
            CommandNotInvokable,
            "command 'frob' cannot be run in the container (permission denied).",
        ),
        (
            "unable to find user ghost: no matching entries in passwd file",
            CommandNotInvokable,
            "user 'ghost' does not exist in the container's /etc/passwd (or /etc/group).",
        ),
        (
            "OCI runtime exec failed: exec failed: unable to start container process: chdir to "
            'cwd ("/nonexistent") set in config.json failed: no such file or directory: unknown',
            CommandNotInvokable,  # 126, as docker exec -w: not "command not found"
            "cannot change to the working directory /nonexistent in the container.",
        ),
        ("something else", CommandNotInvokable, "the runtime could not start command 'frob': so"),
    ],
)
def test_docker_start_failures_reworded(text: str, error: type, sentence: str) -> None:
    request = ExecRequest(["frob"], user="ghost")
    with pytest.raises(error) as err:
        _raise_start_failure(text, request, 126)
    assert err.value.message.startswith(sentence)


@pytest.mark.parametrize(
    ("report", "error", "code", "sentence"),
    [
        ({"errno": errno.ENOENT, "stage": "exec"}, CommandNotFound, 127, "command 'x' was not"),
        ({"errno": errno.EACCES, "stage": "exec"}, CommandNotInvokable, 126, "command 'x' cannot"),
        ({"errno": errno.ENOEXEC, "stage": "exec"}, CommandNotInvokable, 126, "command 'x' cannot"),
        ({"code": 126, "message": "user 'u' does not exist."}, CommandNotInvokable, 126, "user"),
        ({"code": 125, "message": "entering the net namespace failed"}, DebugtoolError, 125, "ent"),
    ],
)
def test_child_failure_reports(report: dict, error: type, code: int, sentence: str) -> None:
    with pytest.raises(error) as err:
        _raise_child_failure(json.dumps(report).encode(), ["x"])
    assert err.value.exit_code == code
    assert err.value.message.startswith(sentence)
    assert err.value.message.endswith(".")


def test_garbled_child_report_is_still_an_error() -> None:
    with pytest.raises(DebugtoolError) as err:
        _raise_child_failure(b"\xff not json", ["x"])
    assert err.value.exit_code == 125


def test_parse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HOST", "h")
    monkeypatch.delenv("NOT_SET", raising=False)
    assert parse_env(["A=1", "B=x=y", "EMPTY=", "FROM_HOST", "NOT_SET"]) == {
        "A": "1",
        "B": "x=y",
        "EMPTY": "",
        "FROM_HOST": "h",
    }
    with pytest.raises(DebugtoolError):
        parse_env(["=value"])


def test_audit_target_matching() -> None:
    record = Record("exec", target_name="web", target_id="0123456789abcdef" * 4)
    assert (
        record.matches("web")
        and record.matches("0123456789ab")
        and record.matches(record.target_id)
    )
    assert not record.matches("we") and not record.matches("012")  # too short a prefix


def test_pty_relay_and_window_size() -> None:
    master, slave = os.openpty()
    set_winsize(slave, (33, 101))
    assert get_winsize(slave) == (33, 101) == get_winsize(master)
    out_r, out_w = os.pipe()
    os.write(slave, b"from the command\n")
    os.close(slave)  # the session ends: the relay stops on EIO
    relay_pty(master, None, out_w)
    os.close(out_w)
    assert os.read(out_r, 100).replace(b"\r", b"") == b"from the command\n"
    os.close(master)
    assert get_winsize(out_r) is None  # a pipe has no window size


def test_joiner_is_forked_from_a_small_single_threaded_process() -> None:
    import threading

    from debugtool.exec.early import should_spawn as _should_spawn
    from debugtool.exec.early import threading_active

    assert _should_spawn(True) and not _should_spawn(False)
    if threading_active():  # pytest plugins may run threads: then spawning is the right call
        assert _should_spawn(None)
        return
    assert not _should_spawn(None)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert threading_active() and _should_spawn(None)
    finally:
        stop.set()
        thread.join()


def test_no_marker_never_matches_host_processes() -> None:
    """A target in the host's PID namespace: an orphan started since (a daemon, a shim) whose
    parent is PID 1 must not be taken for the session's process."""
    import subprocess

    from debugtool.exec.runtime import boot_ticks as _boot_ticks
    from debugtool.exec.runtime import session_processes as _session_processes

    pidns = os.stat("/proc/self/ns/pid").st_ino
    since = _boot_ticks()
    out = subprocess.run(
        ["setsid", "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(out.stdout.strip())
    try:
        assert orphan not in _session_processes(pidns, None, since)
        assert _session_processes(pidns, None, since) == []
    finally:
        os.kill(orphan, 9)


def test_session_processes_are_found_by_their_marker() -> None:
    import subprocess

    from debugtool.exec.runtime import SESSION_VAR
    from debugtool.exec.runtime import boot_ticks as _boot_ticks
    from debugtool.exec.runtime import session_processes as _session_processes

    pidns = os.stat("/proc/self/ns/pid").st_ino
    since = _boot_ticks()
    marked = subprocess.Popen(["sleep", "30"], env={SESSION_VAR: "feedface", "PATH": "/bin"})
    other = subprocess.Popen(["sleep", "30"], env={SESSION_VAR: "feedfacf", "PATH": "/bin"})
    try:
        marker = f"\0{SESSION_VAR}=feedface\0".encode()
        found = _session_processes(pidns, marker, since)
        assert marked.pid in found and other.pid not in found
        # Without a marker: only processes whose parent is outside the namespace count, and
        # here every process's parent is inside it.
        assert marked.pid not in _session_processes(pidns, None, since)
    finally:
        for proc in (marked, other):
            proc.kill()
            proc.wait()


def test_join_spec_round_trips_through_json() -> None:
    """The spawned joiner gets exactly the spec debugtool built (types included)."""
    spec = JoinSpec(
        parent=1,
        namespaces=(("net", 5, 4026531840), ("mnt", 6, 4026531841)),
        proc_fd=7,
        cwd_fd=None,
        tools_fd=8,
        cgroup_procs=("/sys/fs/cgroup/x/cgroup.procs",),
        workdir=None,
        user="app",
        default_ids=(0, 0),
        user_files=("root:x:0:0::/:/bin/sh\n", "root:x:0:\n"),
        env={"PATH": "/bin"},
        argv=("sh", "-c", "true"),
        capabilities=Capabilities(0, 1, 1, 0xFF, 0),
        errw=9,
        tty=False,
    )
    assert JoinSpec.from_json(spec.to_json()) == spec
    assert sorted(spec.descriptors()) == [5, 6, 7, 8, 9]
