"""Host tools in toolbox mode (``--tool``) on a real distroless Docker container: strace and
tcpdump run from the host's packages with their own libraries where the container has no libc,
the container's mountinfo and root are the same before and after, ``/.debugtool`` holds only
what was asked, and a tool the host lacks (or a script) is one sentence with exit code 125."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import harness
import pytest

from debugtool.toolbox import elf, stage

CANARY = "DEBUGTOOL_TOOLBOX_CANARY"


def needs(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed on this host (tests/run installs it)")


@pytest.fixture(scope="module")
def distroless(module_containers: harness.Containers) -> harness.Started:
    """A distroless container (only /bin/busybox, no shell link, no libc) with Docker's
    default capabilities: NET_RAW for tcpdump; no SYS_PTRACE, which strace of its own child
    does not need."""
    return module_containers.docker(
        image=harness.DISTROLESS_IMAGE, cmd=("/bin/busybox", "sleep", "100000")
    )


def snapshot(c: harness.Started) -> tuple[str, list[tuple[str, int]]]:
    """The container's own mountinfo and its root directory's entries with their mtimes."""
    root = Path(f"/proc/{c.pid}/root")
    listing = sorted((p.name, p.lstat().st_mtime_ns) for p in root.iterdir())
    return Path(f"/proc/{c.pid}/mountinfo").read_text(), listing


def test_strace_runs_in_a_distroless_container(distroless: harness.Started, cli) -> None:
    needs("strace")
    before = snapshot(distroless)
    status = Path(f"/proc/{distroless.pid}/status").read_text()
    bounding = int(next(x for x in status.splitlines() if x.startswith("CapBnd")).split()[1], 16)
    assert not bounding & (1 << 19)  # no CAP_SYS_PTRACE in the container
    assert not (Path(f"/proc/{distroless.pid}/root") / "lib").exists()  # and no libc
    result = cli(
        "exec", "--mode", "toolbox", "--tool", "strace", distroless.name, "--",
        "strace", "-f", "-e", "trace=execve", "/.debugtool/bin/busybox", "true",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        'execve("/.debugtool/bin/busybox", ["/.debugtool/bin/busybox", "true"], ' in result.stderr
    )
    assert "+++ exited with 0 +++" in result.stderr
    assert "host tools strace and busybox at /.debugtool (read-only" in result.stderr
    assert snapshot(distroless) == before


def test_tcpdump_captures_a_packet_on_the_containers_loopback(
    distroless: harness.Started, cli
) -> None:
    needs("tcpdump")
    before = snapshot(distroless)
    capture = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "exec", "--mode", "toolbox", "--tool", "tcpdump",
         distroless.name, "--", "tcpdump", "-i", "lo", "-c", "1", "-n", "icmp"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    listening = threading.Event()
    errors: list[str] = []

    def read_stderr() -> None:
        assert capture.stderr is not None
        for line in capture.stderr:
            errors.append(line)
            if line.startswith("listening on lo"):
                listening.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert listening.wait(60), "".join(errors)
        # The packet is sent inside the container's network namespace, to its own loopback.
        ping = cli("exec", "--mode", "toolbox", "--tool", "busybox", distroless.name, "--",
                   "ping", "-c", "2", "127.0.0.1")  # fmt: skip
        assert ping.returncode == 0, ping.stderr
        out, _ = capture.communicate(timeout=60)
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.wait()
    reader.join(10)
    assert capture.returncode == 0, "".join(errors)
    assert "IP 127.0.0.1 > 127.0.0.1: ICMP echo request" in out
    assert "1 packet captured" in "".join(errors)
    assert snapshot(distroless) == before


def test_the_toolbox_holds_only_what_was_asked(distroless: harness.Started, cli) -> None:
    needs("strace")
    script = (
        "cd /.debugtool; find . -type d | sort; echo FILES; find . -type f | sort; "
        "echo LINKS; find . -type l -exec readlink {} \\; | sort -u; echo MOUNT; "
        "grep ' /.debugtool ' /proc/self/mountinfo; echo WRAPPER; cat bin/strace; env"
    )
    result = cli("exec", "--mode", "toolbox", "--tool", "strace", distroless.name, "--", "sh",
                 "-c", script, env={CANARY: "leak"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    dirs, rest = out.split("FILES\n", 1)
    files, rest = rest.split("LINKS\n", 1)
    links, rest = rest.split("MOUNT\n", 1)
    mount, rest = rest.split("WRAPPER\n", 1)
    assert dirs.split() == [".", "./bin", "./ld", "./lib", "./libexec"]
    closure = elf.resolve_closure(elf.read_elf(shutil.which("strace") or ""))
    expected = {"./bin/busybox", "./bin/strace", "./libexec/strace", "./ld/strace", "./shrc",
                "./lib/ld-linux-x86-64.so.2", *(f"./lib/{name}" for name in closure.libraries)}  # fmt: skip
    assert set(files.split()) == expected
    assert links.split() == ["busybox"]  # every link is a busybox applet
    options = mount.split()[5].split(",")
    assert {"ro", "nosuid", "nodev"} <= set(options)
    assert rest.startswith(
        "#!/.debugtool/bin/busybox sh\nexec /.debugtool/ld/strace --inhibit-cache "
        '--library-path /.debugtool/lib --argv0 strace /.debugtool/libexec/strace "$@"\n'
    )
    assert CANARY not in out  # nothing of debugtool's environment
    assert (
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/.debugtool/bin" in out
    )


def test_default_tools_and_the_shells_functions(distroless: harness.Started, cli) -> None:
    """Without --tool: those of the default set the host has, usable from busybox's sh, where
    the shell's start-up file puts the host's ps before busybox's applet."""
    needs("curl", "ps")
    brought = [t for t in stage.DEFAULT_TOOLS if shutil.which(t)]
    before = snapshot(distroless)
    result = cli(
        "exec", "--mode", "toolbox", distroless.name, "--", "sh", "-c",
        # httpd in the foreground (a job of this shell, so it ends with the session); curl
        # retries until it listens.
        "busybox httpd -f -p 127.0.0.1:18091 -h /etc & "
        "for i in $(seq 100); do curl -sS http://127.0.0.1:18091/passwd 2>/dev/null && break; "
        "usleep 50000; done; kill $!",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("root:x:0:0:root:/root:/bin/sh\n")  # the container's file
    assert f"host tools {', '.join(brought)} and busybox at /.debugtool" in result.stderr
    shell = cli("shell", "--tool", "ps", distroless.name,
                input='echo "ENV=$ENV"; . "$ENV"; ps --version; exit 0\n')  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    assert "ENV=/.debugtool/shrc" in shell.stdout
    assert "procps-ng" in shell.stdout  # the host's ps, not busybox's applet
    assert "toolbox mode:" in shell.stderr
    assert snapshot(distroless) == before


def test_a_tool_the_host_lacks_or_cannot_bring(distroless: harness.Started, cli) -> None:
    missing = cli("exec", "--mode", "toolbox", "--tool", "strace,dt-no-such-tool",
                  distroless.name, "--", "true")  # fmt: skip
    assert missing.returncode == 125
    assert missing.stdout == ""
    assert missing.stderr == (
        "debugtool: the host has no tool 'dt-no-such-tool' on its PATH. Install it on the host "
        "(for example with apt-get or dnf) or drop it from --tool.\n"
    )
    ldd = shutil.which("ldd")  # a bash script in glibc's packages
    if ldd and Path(ldd).read_bytes().startswith(b"#!"):
        script = cli("exec", "--mode", "toolbox", "--tool", "ldd", distroless.name, "--", "true")
        assert script.returncode == 125
        assert f"the host's ldd ({ldd}) is a script for" in script.stderr
        assert "not a binary" in script.stderr and "Traceback" not in script.stderr
    for args, sentence in (
        (("--mode", "ns", "--tool", "strace"), "--tool works only with --mode toolbox."),
        (("--mode", "toolbox", "--tool", "strace", "--tools", "/tmp"),
         "--tool and --tools cannot be used together."),
    ):  # fmt: skip
        refused = cli("exec", *args, distroless.name, "--", "true")
        assert refused.returncode == 125
        assert sentence in refused.stderr


def test_a_changed_host_binary_gets_a_fresh_copy(tmp_path: Path) -> None:
    """The staging directory is reused while its sources are unchanged and rebuilt when one
    changes; the older one stays for a session that may still use it."""
    tool = tmp_path / "dt-tool"
    shutil.copy2("/bin/true", tool)
    first = stage.prepare([str(tool)])
    built = [Path(first.root).parent]
    try:
        assert first.tools == ("dt-tool",)
        assert stage.prepare([str(tool)]) == first
        assert Path(first.root).parent.parent == Path(stage.CACHE_DIR)
        assert (Path(stage.CACHE_DIR).stat().st_mode & 0o777) == 0o700
        sources = (Path(first.root).parent / "sources").read_text()
        assert str(tool) in sources  # host paths stay beside root/, never in it
        for text in (Path(first.root) / "bin" / "dt-tool", Path(first.root) / "shrc"):
            assert str(tmp_path) not in text.read_text()
        with open(tool, "ab") as f:
            f.write(b"\0")  # a changed binary (an ELF file ignores bytes past its end)
        second = stage.prepare([str(tool)])
        built.append(Path(second.root).parent)
        assert second.root != first.root
        assert (Path(second.root) / "libexec" / "dt-tool").read_bytes() == tool.read_bytes()
        assert Path(first.root).is_dir()
    finally:
        for directory in built:
            shutil.rmtree(directory, ignore_errors=True)
