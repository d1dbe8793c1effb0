"""The one exec path on real containers: every mode on Docker, runc, podman and containerd,
exit codes, bad input, the audit log, inherited fds and environment, cgroup and capabilities,
and toolbox mode on distroless and read-only roots without touching them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import harness
import pytest

CANARY = "DEBUGTOOL_SECRET_CANARY"
# What the command prints: its env, the fds it holds (ls opens one more), its ids.
PROBE = 'echo "FOO=$FOO"; env; echo FDS $(ls /proc/self/fd | tr "\\n" " "); id'


@pytest.fixture(scope="module")
def started(module_containers: harness.Containers) -> dict[str, harness.Started]:
    """One busybox container per runtime, each with FOO set in its environment."""
    c = module_containers
    return {
        "docker": c.docker("-e", "FOO=docker-env", "--cap-drop", "NET_RAW"),
        "runc": c.runc(env=["FOO=runc-env"]),
        "podman": c.podman("-e", "FOO=podman-env"),
        "containerd": c.containerd("--env", "FOO=ctr-env"),
    }


@pytest.fixture
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("DEBUGTOOL_AUDIT_LOG", str(path))
    return path


def entries(path: Path) -> list[dict]:
    """The log's sessions, each as its end record (or its start, if it never ended)."""
    from debugtool import audit

    return [r.to_dict() for r in audit.sessions(audit.read(str(path)))]


def fds_of(stdout: str) -> list[str]:
    line = next(line for line in stdout.splitlines() if line.startswith("FDS "))
    return line.split()[1:]


CASES = [
    ("docker", "runtime"),
    ("docker", "ns"),
    ("docker", "toolbox"),
    ("runc", "runtime"),
    ("runc", "ns"),
    ("runc", "toolbox"),
    ("podman", "runtime"),
    ("podman", "ns"),
    ("containerd", "runtime"),
    ("containerd", "ns"),
]


@pytest.mark.parametrize(("runtime", "mode"), CASES)
def test_mode_runs_in_the_container_with_its_env_and_no_leaks(
    started: dict[str, harness.Started], cli, audit_log: Path, runtime: str, mode: str
) -> None:
    c = started[runtime]
    result = cli("exec", "--mode", mode, c.name, "--", "sh", "-c", PROBE, env={CANARY: "leak"})
    assert result.returncode == 0, result.stderr
    assert f"{mode} mode:" in result.stderr
    out = result.stdout
    assert f"FOO={runtime if runtime != 'containerd' else 'ctr'}-env" in out
    assert CANARY not in out  # the host's environment never reaches the container
    # Only 0, 1, 2 and the directory ls itself opened: nothing inherited from debugtool.
    assert fds_of(out) == ["0", "1", "2", "3"]
    assert "uid=0(root)" in out
    [entry] = entries(audit_log)
    assert entry["mode"] == mode and entry["exit_code"] == 0
    assert entry["target_id"] == c.id and entry["argv"] == ["sh", "-c", PROBE]


def test_ns_mode_enters_the_namespaces_and_cgroup_with_the_containers_capabilities(
    started: dict[str, harness.Started], cli, audit_log: Path
) -> None:
    c = started["docker"]
    script = (
        "for ns in net pid mnt; do readlink /proc/self/ns/$ns; done; "
        "grep -E '^(CapBnd|CapEff|NoNewPrivs)' /proc/self/status; cat /proc/self/cgroup; hostname"
    )
    result = cli("exec", "--mode", "ns", c.id, "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    for ns in ("net", "pid", "mnt"):
        inode = os.stat(f"/proc/{c.pid}/ns/{ns}").st_ino
        assert f"{ns}:[{inode}]" in result.stdout
    status = Path(f"/proc/{c.pid}/status").read_text()
    bounding = next(line for line in status.splitlines() if line.startswith("CapBnd"))
    assert bounding in result.stdout  # NET_RAW dropped as in the container
    assert "NoNewPrivs:\t1" in result.stdout
    assert f"/docker/{c.id}" in result.stdout  # the container's cgroup, so its limits apply
    assert result.stdout.split()[-1] == c.id[:12]  # its UTS namespace
    assert "seccomp NOT applied" in result.stderr


def test_privileged_keeps_roots_capabilities_and_is_audited(
    started: dict[str, harness.Started], cli, audit_log: Path
) -> None:
    c = started["docker"]
    result = cli(
        "exec", "--mode", "ns", "--privileged", c.name, "--", "grep", "CapBnd", "/proc/self/status"
    )
    assert result.returncode == 0, result.stderr
    own = next(
        line for line in Path("/proc/self/status").read_text().splitlines() if "CapBnd" in line
    )
    assert own in result.stdout
    assert entries(audit_log)[-1]["privileged"] is True


def test_only_the_namespaces_asked_for(
    started: dict[str, harness.Started], cli, audit_log: Path
) -> None:
    c = started["docker"]
    result = cli(
        "exec", "--mode", "ns", "--ns", "net", c.name, "--", "readlink", "/proc/self/ns/net",
        "/proc/self/ns/mnt",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    net, mnt = result.stdout.split()
    assert net == f"net:[{os.stat(f'/proc/{c.pid}/ns/net').st_ino}]"
    assert mnt == f"mnt:[{os.stat('/proc/self/ns/mnt').st_ino}]"  # still the host's
    assert "namespaces net joined" in result.stderr
    assert entries(audit_log)[-1]["namespaces"] == ["net"]


def test_user_workdir_and_env(started: dict[str, harness.Started], cli, audit_log: Path) -> None:
    c = started["docker"]
    for mode in ("runtime", "ns"):
        result = cli(
            "exec", "--mode", mode, "-u", "app", "-w", "/tmp", "-e", "EXTRA=1", c.name, "--",
            "sh", "-c", 'id; pwd; echo "EXTRA=$EXTRA HOME=$HOME"; grep CapEff /proc/self/status',
        )  # fmt: skip
        assert result.returncode == 0, (mode, result.stderr)
        assert "uid=1000(app) gid=1000(app)" in result.stdout
        assert "/tmp\n" in result.stdout
        assert "EXTRA=1 HOME=/home/app" in result.stdout
        assert "CapEff:\t0000000000000000" in result.stdout  # a non-root user holds none


@pytest.mark.parametrize("mode", ["runtime", "ns", "toolbox"])
def test_exit_codes_and_bad_commands(
    started: dict[str, harness.Started], cli, audit_log: Path, mode: str
) -> None:
    c = started["docker"]
    assert cli("exec", "--mode", mode, c.name, "--", "sh", "-c", "exit 7").returncode == 7
    missing = cli("exec", "--mode", mode, c.name, "--", "no-such-command")
    assert missing.returncode == 127
    assert "command 'no-such-command' was not found in the container." in missing.stderr
    not_exec = cli("exec", "--mode", mode, c.name, "--", "/etc/passwd")
    assert not_exec.returncode == 126
    assert "command '/etc/passwd' cannot be run in the container" in not_exec.stderr
    no_user = cli("exec", "--mode", mode, "-u", "nobody-here", c.name, "--", "id")
    assert no_user.returncode == 126
    assert "user 'nobody-here' does not exist in the container's /etc/passwd" in no_user.stderr
    for result in (missing, not_exec, no_user):
        assert "Traceback" not in result.stderr
    codes = [e["exit_code"] for e in entries(audit_log)]
    assert codes == [7, 127, 126, 126]  # failures are audited too


def test_runc_exit_codes(started: dict[str, harness.Started], cli, audit_log: Path) -> None:
    c = started["runc"]
    assert cli("exec", c.name, "--", "sh", "-c", "exit 9").returncode == 9
    assert cli("exec", "--mode", "ns", c.name, "--", "no-such-command").returncode == 127


def test_unknown_and_stopped_containers(containers: harness.Containers, cli, audit_log) -> None:
    unknown = cli("exec", "no-such-container-xyz", "--", "true")
    assert unknown.returncode == 125
    assert "no container matches 'no-such-container-xyz'." in unknown.stderr
    c = containers.docker(cmd=("/bin/true",))
    harness.run("docker", "wait", c.id)
    stopped = cli("exec", c.name, "--", "true")
    assert stopped.returncode == 125
    # Issue 18: its last state, and what can still be read of it.
    assert f"container {c.name} ({c.id[:12]}) is exited (code 0, " in stopped.stderr
    assert "so nothing can run in it." in stopped.stderr
    assert f"'debugtool console {c.name}'" in stopped.stderr
    logged = entries(audit_log)
    assert [e["exit_code"] for e in logged] == [125, 125]
    assert logged[0]["target_name"] == "no-such-container-xyz"


def test_missing_tools_directory(started: dict[str, harness.Started], cli, audit_log) -> None:
    result = cli("exec", "--mode", "toolbox", "--tools", "/no/such/dir", "runc:" + started["runc"].name,
                 "--", "true")  # fmt: skip
    assert result.returncode == 125
    assert "the tools directory /no/such/dir does not exist or is not a directory." in result.stderr


def test_usage_errors(started: dict[str, harness.Started], cli, audit_log) -> None:
    c = started["docker"]
    no_cmd = cli("exec", c.name)
    assert no_cmd.returncode == 125 and "no command given." in no_cmd.stderr
    bad_ns = cli("exec", "--mode", "ns", "--ns", "net,bogus", c.name, "--", "true")
    assert bad_ns.returncode == 125 and "unknown namespace bogus." in bad_ns.stderr


def test_unwritable_audit_log_runs_nothing(
    started: dict[str, harness.Started], cli, tmp_path: Path
) -> None:
    c = started["docker"]
    marker = f"/tmp/audit-marker-{os.getpid()}"
    log = tmp_path / "not-a-dir"
    log.write_text("")
    result = cli(
        "exec", "--mode", "ns", c.name, "--", "touch", marker,
        env={"DEBUGTOOL_AUDIT_LOG": str(log / "audit.jsonl")},
    )  # fmt: skip
    assert result.returncode == 125
    assert "cannot write the audit log" in result.stderr and "nothing was run" in result.stderr
    assert not Path(f"/proc/{c.pid}/root{marker}").exists()


def test_audit_command_lists_execs(started: dict[str, harness.Started], cli, audit_log) -> None:
    c = started["docker"]
    other = started["runc"]
    cli("exec", c.name, "--", "true")
    cli("exec", "--mode", "ns", other.name, "--", "sh", "-c", "exit 3")
    table = cli("audit")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:6] == ["TIME", "USER", "TARGET", "ACTION", "MODE", "EXIT"]
    assert c.name in lines[1] and "runtime" in lines[1]  # newest last
    assert other.name in lines[2] and " ns " in lines[2] and "sh -c 'exit 3'" in lines[2]
    only = json.loads(cli("audit", "--json", "--target", other.name).stdout)
    assert [e["exit_code"] for e in only] == [3]
    assert only[0]["user"] == "root" and "duration" in only[0] and "terminal" in only[0]


def test_json_context_report(started: dict[str, harness.Started], cli, audit_log) -> None:
    result = cli("exec", "--context-json", "--mode", "ns", started["runc"].name, "--", "true")
    assert result.returncode == 0
    report = json.loads(result.stderr.splitlines()[0])
    assert report["context"]["mode"] == "ns"
    assert "pid" in report["context"]["namespaces"] and "mnt" in report["context"]["namespaces"]
    assert report["line"].startswith("ns mode: ")


# --- toolbox on roots it must not touch ------------------------------------------------------


def root_listing(pid: int) -> list[tuple[str, int]]:
    root = Path(f"/proc/{pid}/root")
    return sorted((str(p.relative_to(root)), p.lstat().st_mtime_ns) for p in root.iterdir())


@pytest.mark.parametrize("kind", ["distroless", "read-only", "runc-distroless-read-only"])
def test_toolbox_leaves_the_container_untouched(
    containers: harness.Containers, cli, audit_log, kind: str
) -> None:
    if kind == "distroless":
        c = containers.docker(
            image=harness.DISTROLESS_IMAGE, cmd=("/bin/busybox", "sleep", "100000")
        )
    elif kind.startswith("runc"):
        c = containers.runc(cmd=("/bin/busybox", "sleep", "100000"), distroless=True)
    else:
        c = containers.docker("--read-only")
    mountinfo = Path(f"/proc/{c.pid}/mountinfo").read_text()
    listing = root_listing(c.pid)
    result = cli(
        "exec", "--mode", "toolbox", c.name, "--", "sh", "-c",
        "ls -a /; ls /.debugtool/bin | grep -c .; cat /etc/passwd | head -1; "
        "wc -l < /proc/self/mountinfo; touch /.debugtool/x || echo tools-read-only",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = result.stdout.split()
    assert ".debugtool" in names and "etc" in names and "proc" in names
    assert "root:x:0:0:root:/root:/bin/sh" in result.stdout  # the container's own files
    assert "tools-read-only" in result.stdout
    assert Path(f"/proc/{c.pid}/mountinfo").read_text() == mountinfo
    assert root_listing(c.pid) == listing
    if "distroless" in kind:
        plain = cli("exec", "--mode", "ns", c.name, "--", "ls", "/")
        assert plain.returncode == 127  # without the toolbox there is no ls


def test_toolbox_with_a_tools_directory(
    started: dict[str, harness.Started], cli, audit_log, tmp_path: Path
) -> None:
    tools = tmp_path / "tools"
    (tools / "bin").mkdir(parents=True)
    script = tools / "bin" / "hello-tool"
    script.write_text("#!/bin/sh\necho hello from the host tool\n")
    script.chmod(0o755)
    result = cli("exec", "--mode", "toolbox", "--tools", str(tools), started["runc"].name, "--",
                 "hello-tool")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from the host tool\n"
    assert f"host tools from {tools} at /.debugtool" in result.stderr


def test_shell_falls_back_to_toolbox_on_distroless(
    containers: harness.Containers, cli, audit_log
) -> None:
    c = containers.docker(image=harness.DISTROLESS_IMAGE, cmd=("/bin/busybox", "sleep", "100000"))
    result = cli("shell", c.name, input="echo inside-$((2+3)); exit 4\n")
    assert result.returncode == 4, result.stderr
    assert "inside-5" in result.stdout
    assert "the container has no /bin/sh; running the host's busybox sh in toolbox mode." in (
        result.stderr
    )
    assert entries(audit_log)[-1]["argv"] == ["/.debugtool/bin/sh"]
    # A mode the operator chose is never swapped for another behind their back.
    explicit = cli("shell", "--mode", "ns", c.name, input="exit 0\n")
    assert explicit.returncode == 127
    assert "the container has no /bin/sh, so --mode ns cannot give a shell." in explicit.stderr


SPAWNED_CALLER = """
import os, sys, threading
from debugtool.runtimes import discover
from debugtool.target import find, pin
from debugtool.exec import exec_in
from debugtool.exec.early import threading_active
# A caller like the TUI: several threads and a big heap, so the joiner is spawned, not forked.
# exec_in runs in a worker thread, as a TUI action would.
ballast = bytearray(150 * 1024 * 1024)
codes = []

def worker():
    assert threading_active()
    with pin(find(sys.argv[1], discover(all=True))) as target:
        codes.append(exec_in(target, ["sh", "-c", sys.argv[3]], sys.argv[2]).exit_code)

thread = threading.Thread(target=worker)
thread.start()
thread.join()
sys.exit(codes[0])
"""


@pytest.mark.parametrize("mode", ["ns", "toolbox", "runtime"])
def test_exec_in_from_a_worker_thread_of_a_big_caller(
    started: dict[str, harness.Started], audit_log: Path, mode: str
) -> None:
    import subprocess
    import sys

    c = started["docker"]
    result = subprocess.run(
        [sys.executable, "-c", SPAWNED_CALLER, c.name, mode, PROBE + "; exit 5"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, CANARY: "leak"},
    )
    assert result.returncode == 5, result.stderr
    assert "FOO=docker-env" in result.stdout and CANARY not in result.stdout
    assert fds_of(result.stdout) == ["0", "1", "2", "3"]
    assert entries(audit_log)[-1]["exit_code"] == 5


@pytest.mark.parametrize("runtime", ["runc", "podman", "containerd"])
def test_runtime_mode_bad_input_through_each_runtimes_own_exec(
    started: dict[str, harness.Started], cli, audit_log: Path, runtime: str
) -> None:
    c = started[runtime]
    missing = cli("exec", c.name, "--", "no-such-command")
    assert missing.returncode == 127
    assert missing.stderr.splitlines()[-1] == (
        "debugtool: command 'no-such-command' was not found in the container. "
        "Check its path, or use --mode toolbox to run the host's tools."
    )
    not_exec = cli("exec", c.name, "--", "/etc/passwd")
    assert not_exec.returncode == 126
    assert "command '/etc/passwd' cannot be run in the container" in not_exec.stderr
    no_user = cli("exec", "-u", "nobody-here", c.name, "--", "id")
    assert no_user.returncode == 126
    assert "nobody-here" in no_user.stderr and "/etc/passwd" in no_user.stderr
    own_stderr = cli("exec", c.name, "--", "sh", "-c", "echo to-stderr >&2; echo to-stdout")
    assert own_stderr.returncode == 0
    assert own_stderr.stdout == "to-stdout\n" and "to-stderr\n" in own_stderr.stderr
    assert [e["exit_code"] for e in entries(audit_log)] == [127, 126, 126, 0]


@pytest.mark.parametrize(
    ("runtime", "mode"), [("docker", "runtime"), ("docker", "ns"), ("docker", "toolbox"),
                          ("runc", "runtime"), ("podman", "runtime")],
)  # fmt: skip
def test_stdin_is_streamed_only_with_i(
    started: dict[str, harness.Started], cli, audit_log: Path, runtime: str, mode: str
) -> None:
    c = started[runtime]
    streamed = cli("exec", "-i", "--mode", mode, c.name, "--", "sh", "-c", "cat; echo end",
                   input="line one\nline two\n")  # fmt: skip
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout == "line one\nline two\nend\n"
    closed = cli("exec", "--mode", mode, c.name, "--", "sh", "-c", "cat; echo end",
                 input="not for the command\n")  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout == "end\n"


def test_ns_and_toolbox_start_in_the_containers_working_directory(
    containers: harness.Containers, cli, audit_log: Path
) -> None:
    c = containers.docker("-w", "/etc")
    for mode in ("runtime", "ns", "toolbox"):
        result = cli("exec", "--mode", mode, c.name, "--", "sh", "-c", "pwd")
        assert (result.returncode, result.stdout) == (0, "/etc\n"), (mode, result.stderr)
    moved = cli("exec", "--mode", "toolbox", "-w", "/var/log", c.name, "--", "sh", "-c", "pwd")
    assert moved.stdout == "/var/log\n"
    missing = cli("exec", "--mode", "ns", "-w", "/no/such/dir", c.name, "--", "pwd")
    assert missing.returncode == 126
    assert "cannot change to the working directory /no/such/dir" in missing.stderr
