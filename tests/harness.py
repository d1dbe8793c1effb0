"""Real containers for tests and benchmarks: a busybox root filesystem under runc, Docker,
containerd, podman and a plain ``unshare`` sandbox. Everything started is removed by id.

Images are built from the host's ``/bin/busybox`` (package busybox-static) with ``docker import``,
``podman import`` and ``ctr image import``; no registry is ever contacted.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BUSYBOX = "/bin/busybox"
APPLETS = (
    "sh",
    "sleep",
    "cat",
    "ls",
    "ps",
    "nc",
    "dd",
    "id",
    "env",
    "echo",
    "true",
    "false",
    "wc",
    "head",
    "tail",
    "grep",
    "mkdir",
    "touch",
    "rm",
    "hostname",
    "ip",
    "ifconfig",
    "wget",
    "printf",
    "stat",
    "sync",
    "yes",
    "seq",
    "kill",
    "od",
)
DOCKER_IMAGE = "debugtool-test/busybox:latest"
DISTROLESS_IMAGE = "debugtool-test/distroless:latest"
CTR_NAMESPACE = "debugtool-test"
PODMAN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/:/bin/false\n"
    "app:x:1000:1000:app user:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\napp:x:1000:\nnogroup:x:65534:\n"
WORK = Path(os.environ.get("DEBUGTOOL_TEST_WORK", "/var/tmp/debugtool-test"))


def tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``tmux ARGS`` on a server of the test's own (``socket``, no config file): other
    sessions on the machine's default server cannot resize its windows or change its options.
    Tests bind their socket once: ``tmux = functools.partial(harness.tmux, SOCKET)``."""
    return subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10
    )


def run(*argv: str, check: bool = True, timeout: float = 120, input: bytes | None = None) -> str:
    """Run a command; return its stdout; raise with its stderr when it fails."""
    proc = subprocess.run(argv, capture_output=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout.decode(errors="replace")


def run_cli(
    *args: str, input: str | None = None, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m debugtool ARGS`` and return the finished process (text output)."""
    import sys

    return subprocess.run(
        [sys.executable, "-m", "debugtool", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env={**os.environ, **(env or {})},
    )


def build_rootfs(dest: Path, distroless: bool = False) -> Path:
    """Make a busybox root filesystem at ``dest``.

    A distroless root holds only ``/bin/busybox`` (no ``/bin/sh``, no applet links).
    """
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "home/app", "var/log", "run"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    if not distroless:
        for applet in APPLETS:
            link = dest / "bin" / applet
            if not link.is_symlink():
                link.symlink_to("busybox")
    (dest / "etc" / "passwd").write_text(PASSWD)
    (dest / "etc" / "group").write_text(GROUP)
    (dest / "etc" / "hostname").write_text("debugtool-test\n")
    (dest / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (dest / "etc" / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    return dest


class FakeDaemon:
    """A unix socket that answers every HTTP request with ``answer(request_line)``: bytes to
    send (then close), or an iterator of chunks sent until the client hangs up. For wire-level
    garbage (truncated JSON, endless bodies) that no real daemon can be made to send."""

    def __init__(self, path: str, answer: Callable[[bytes], bytes | Iterator[bytes]]) -> None:
        self.path = path
        self.answer = answer
        self.requests: list[bytes] = []
        self.sent = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                line = request.split(b"\r\n", 1)[0]
                self.requests.append(line)
                answer = self.answer(line)
                for chunk in [answer] if isinstance(answer, bytes) else answer:
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                pass  # the client hung up: what a capped reader does

    @property
    def env(self) -> dict[str, str]:
        """The environment that points a Docker client at this socket."""
        return {"DOCKER_HOST": f"unix://{self.path}"}

    def close(self) -> None:
        self.sock.close()


def run_measured(
    argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None, timeout: float = 600
) -> tuple[int, str, str, int]:
    """Run ``argv``; return its exit code, stdout, stderr and peak RSS in bytes.

    The peak is taken by GNU time around the child: a child forked (or vforked) straight from
    pytest starts its life with pytest's resident set, which the kernel counts in the child's
    ``ru_maxrss``, so ``wait4`` here would report the larger of the two.
    """
    with tempfile.NamedTemporaryFile(prefix="dt-rss-", dir=WORK if WORK.exists() else None) as f:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", f.name, *argv],
            capture_output=True,
            env=env,
            cwd=cwd,
            timeout=timeout,
        )
        peak_kib = int(Path(f.name).read_text().split()[-1])
    return (
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
        peak_kib * 1024,
    )


def build_static(source: Path) -> Path:
    """Compile a C test program statically (gcc, cached under WORK by its source's hash)."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    binary = WORK / f"{source.stem}-{digest}"
    if not binary.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        part = binary.with_suffix(".part")
        run("gcc", "-static", "-O2", "-o", str(part), str(source))
        part.rename(binary)
    return binary


def rootfs_tar(distroless: bool = False) -> Path:
    """Return a cached tar of the busybox root filesystem."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / ("distroless.tar" if distroless else "busybox.tar")
    if not path.exists():
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            root = build_rootfs(Path(tmp) / "rootfs", distroless)
            part = path.with_suffix(".part")
            with tarfile.open(part, "w") as tar:
                tar.add(root, arcname=".")
            part.rename(path)
    return path


def oci_archive(distroless: bool = False, ref: str = DOCKER_IMAGE) -> Path:
    """Return an OCI image archive of the root filesystem, for ``ctr image import``."""
    path = WORK / ("distroless-oci.tar" if distroless else "busybox-oci.tar")
    if path.exists():
        return path
    layer_tar = rootfs_tar(distroless).read_bytes()
    layer = gzip.compress(layer_tar, mtime=0)
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Cmd": ["/bin/sleep", "100000"]
                if not distroless
                else ["/bin/busybox", "sleep", "100000"],
                "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()

    def blob(data: bytes) -> tuple[str, bytes]:
        return hashlib.sha256(data).hexdigest(), data

    layer_d, _ = blob(layer)
    config_d, _ = blob(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{config_d}",
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{layer_d}",
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    manifest_d, _ = blob(manifest)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": f"sha256:{manifest_d}",
                    "size": len(manifest),
                    "annotations": {
                        "org.opencontainers.image.ref.name": ref,
                        "io.containerd.image.name": ref,
                    },
                }
            ],
        }
    ).encode()
    part = path.with_suffix(".part")
    with tarfile.open(part, "w") as tar:
        for name, data in (
            ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
            ("index.json", index),
            (f"blobs/sha256/{layer_d}", layer),
            (f"blobs/sha256/{config_d}", config),
            (f"blobs/sha256/{manifest_d}", manifest),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    part.rename(path)
    return path


def ensure_images() -> None:
    """Import the busybox and distroless images into Docker, podman and containerd (once)."""
    for image, distroless in ((DOCKER_IMAGE, False), (DISTROLESS_IMAGE, True)):
        if shutil.which("docker") and not run("docker", "images", "-q", image, check=False).strip():
            run("docker", "import", str(rootfs_tar(distroless)), image)
        if (
            shutil.which("podman")
            and subprocess.run(["podman", "image", "exists", image]).returncode != 0
        ):
            run("podman", "import", str(rootfs_tar(distroless)), image)
        if shutil.which("ctr"):
            have = run("ctr", "-n", CTR_NAMESPACE, "images", "ls", "-q", check=False)
            if image not in have.split():
                run(
                    "ctr",
                    "-n",
                    CTR_NAMESPACE,
                    "images",
                    "import",
                    str(oci_archive(distroless, image)),
                )


# --- rootless podman ---------------------------------------------------------------------------

#: The user tests/run creates, with subordinate ids and /run/user/UID, for rootless podman.
ROOTLESS_USER = "dtrootless"


@dataclass(frozen=True)
class RootlessUser:
    """The rootless test user: name, ids, home and runtime directory."""

    name: str
    uid: int
    gid: int
    home: str

    @property
    def runtime_dir(self) -> str:
        return f"/run/user/{self.uid}"

    def env(self) -> list[str]:
        """The whole environment a command runs with as this user (``env -i`` arguments)."""
        return [
            "PATH=/usr/local/bin:/usr/bin:/bin",
            f"HOME={self.home}",
            f"USER={self.name}",
            f"LOGNAME={self.name}",
            f"XDG_RUNTIME_DIR={self.runtime_dir}",
        ]

    def argv(self, *argv: str) -> list[str]:
        """``argv`` run as this user through runuser, with only this user's environment."""
        return ["runuser", "-u", self.name, "--", "env", "-i", *self.env(), *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 120) -> str:
        """Run a command as this user (from ``/``); return its stdout."""
        proc = subprocess.run(self.argv(*argv), capture_output=True, timeout=timeout, cwd="/")
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} as {self.name} exited {proc.returncode}: "
                f"{proc.stderr.decode(errors='replace')}"
            )
        return proc.stdout.decode(errors="replace")


def rootless_user() -> RootlessUser:
    """Return the rootless test user; raise with what to do when tests/run has not made it."""
    import pwd

    try:
        entry = pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        raise RuntimeError(f"user {ROOTLESS_USER} is missing: tests/run creates it") from None
    user = RootlessUser(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
    if not os.path.isdir(user.runtime_dir):
        raise RuntimeError(f"{user.runtime_dir} is missing: tests/run creates it")
    return user


def ensure_rootless_image(user: RootlessUser) -> None:
    """Import the busybox image into the user's own podman storage (once), as that user."""
    exists = subprocess.run(
        user.argv("podman", "image", "exists", DOCKER_IMAGE), capture_output=True, cwd="/"
    )
    if exists.returncode != 0:
        user.run("podman", "import", str(rootfs_tar()), DOCKER_IMAGE)


def user_debugtool(
    user: RootlessUser, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m debugtool ARGS`` as ``user`` (runuser, the user's environment only).

    The interpreter is this one when the user may run it, else the system's python3 (a
    virtualenv made from a python under /root is not the user's to run); the worktree and this
    environment's packages are on its path.
    """
    import sys
    import sysconfig

    path = ":".join([str(Path(__file__).resolve().parents[1]), sysconfig.get_paths()["purelib"]])
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run(user.argv(python, "-c", "pass"), capture_output=True, cwd="/")
        if probe.returncode == 0:
            break
    return subprocess.run(
        user.argv(f"PYTHONPATH={path}", python, "-P", "-m", "debugtool", *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


_reaper_started = False
_reaper_started = False


def _become_subreaper() -> None:
    """Adopt orphans, and reap those that lived in a container's PID namespace.

    This VM's PID 1 never reaps. A zombie left in a container's PID namespace (a detached runc
    init, or a debug command whose debugtool a test killed) keeps that container from ever
    finishing its exit: the kernel waits for every process of a dying PID namespace to be reaped.
    So the test process adopts orphans and a thread reaps the adopted ones that belong to another
    PID namespace. Its own subprocesses run in the host's namespace and are left to their Popen.
    """
    global _reaper_started
    import ctypes
    import threading

    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if not _reaper_started:
        _reaper_started = True
        threading.Thread(target=_reap_container_orphans, daemon=True, name="reaper").start()


def _reap_container_orphans() -> None:
    me = os.getpid()
    while True:
        time.sleep(0.2)
        try:
            tasks = os.listdir(f"/proc/{me}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{me}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in children:
                try:
                    status = Path(f"/proc/{child}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
                if (
                    fields.get("State", "").startswith("Z")
                    and len(fields.get("NSpid", "").split()) > 1
                ):
                    try:
                        os.waitpid(int(child), os.WNOHANG)
                    except ChildProcessError:
                        pass


def _reap(pid: int) -> None:
    for _ in range(100):
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        time.sleep(0.02)


def _remove(cli: str, cid: str, *flags: str, patience: float = 60) -> None:
    """``CLI rm -f`` a container until it is gone.

    A container whose processes take long to die (one held in a ptrace stop or in the D state by
    a test, say) makes a single ``rm -f`` give up with the container killed but not removed.
    """
    deadline = time.monotonic() + patience
    while True:
        run(cli, "rm", "-f", *flags, cid, check=False)
        gone = subprocess.run([cli, "inspect", "--format", "{{.Id}}", cid], capture_output=True)
        if gone.returncode != 0 or time.monotonic() > deadline:
            return
        time.sleep(0.5)


def remove_containerd_namespace(ns: str) -> None:
    """Remove a containerd namespace a test made, with its image, and runc's empty root for it.

    ``images rm --sync`` waits for containerd's garbage collection (without it the namespace is
    not empty yet and refuses removal); runc's ``/run/containerd/runc/NS`` outlives the namespace
    and would be one more state root every later discovery lists.
    """
    run("ctr", "-n", ns, "images", "rm", "--sync", DOCKER_IMAGE, check=False)
    for _ in range(50):
        if ns not in run("ctr", "namespaces", "ls", "-q", check=False).split():
            break
        run("ctr", "namespaces", "rm", ns, check=False)
        time.sleep(0.2)
    try:
        os.rmdir(f"/run/containerd/runc/{ns}")
    except OSError:
        pass  # never made, or not empty: not ours to remove


def unique(prefix: str = "dt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Started:
    """A container this harness started: its runtime, id, name and host PID of its init."""

    runtime: str
    id: str
    name: str
    pid: int
    extra: dict = field(default_factory=dict)


def wait_for(check, what: str = "the condition held", timeout: float = 30) -> None:
    """Poll ``check`` until it is true; fail the test with ``what`` (what did not happen) when it
    is not within ``timeout`` seconds (a guard, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(what)


def _wait_pid(get, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = get()
        if pid:
            return pid
        time.sleep(0.05)
    raise RuntimeError("container did not start in time")


class Containers:
    """Starts containers on real runtimes and removes every one of them (by id) on ``cleanup``."""

    def __init__(self) -> None:
        self.started: list[Started] = []
        self._cleanups: list = []

    # --- Docker -----------------------------------------------------------------------------
    def docker(
        self,
        *run_args: str,
        cmd: tuple[str, ...] = ("/bin/sleep", "100000"),
        image: str = DOCKER_IMAGE,
        name: str | None = None,
    ) -> Started:
        name = name or unique("dt-docker")
        cid = run("docker", "run", "-d", "--name", name, *run_args, image, *cmd).strip()
        self._cleanups.append(lambda: _remove("docker", cid))
        pid = int(run("docker", "inspect", "-f", "{{.State.Pid}}", cid).strip())
        return self._add(Started("docker", cid, name, pid))

    # --- podman -----------------------------------------------------------------------------
    def podman(
        self,
        *run_args: str,
        cmd: tuple[str, ...] = ("/bin/sleep", "100000"),
        image: str = DOCKER_IMAGE,
        name: str | None = None,
    ) -> Started:
        name = name or unique("dt-podman")
        cid = run(
            "podman", "run", "-d", *PODMAN_FLAGS, "--name", name, *run_args, image, *cmd
        ).strip()
        self._cleanups.append(lambda: _remove("podman", cid, "-t", "0"))
        pid = int(run("podman", "inspect", "-f", "{{.State.Pid}}", cid).strip())
        return self._add(Started("podman", cid, name, pid))

    def rootless_podman(
        self,
        *run_args: str,
        cmd: tuple[str, ...] = ("/bin/sleep", "100000"),
        name: str | None = None,
    ) -> Started:
        """Start a rootless podman container as ROOTLESS_USER (runc, no network); ``extra``
        holds the user."""
        user = rootless_user()
        ensure_rootless_image(user)
        name = name or unique("dt-rootless")
        cid = user.run(
            "podman", "run", "-d", *PODMAN_FLAGS, "--network", "none", "--name", name,
            *run_args, DOCKER_IMAGE, *cmd,
        ).strip()  # fmt: skip
        self._cleanups.append(lambda: user.run("podman", "rm", "-f", "-t", "0", cid, check=False))
        pid = int(user.run("podman", "inspect", "-f", "{{.State.Pid}}", cid).strip())
        return self._add(Started("podman", cid, name, pid, {"user": user}))

    # --- containerd -------------------------------------------------------------------------
    def containerd(
        self,
        *run_args: str,
        cmd: tuple[str, ...] = ("/bin/sleep", "100000"),
        image: str = DOCKER_IMAGE,
        name: str | None = None,
        namespace: str = CTR_NAMESPACE,
    ) -> Started:
        name = name or unique("dt-ctr")
        run("ctr", "-n", namespace, "run", "-d", *run_args, image, name, *cmd)

        def remove() -> None:
            run("ctr", "-n", namespace, "task", "kill", "-s", "KILL", name, check=False)
            for _ in range(50):
                if "STOPPED" in run(
                    "ctr", "-n", namespace, "task", "ls", check=False
                ) or name not in run("ctr", "-n", namespace, "task", "ls", check=False):
                    break
                time.sleep(0.1)
            run("ctr", "-n", namespace, "task", "rm", "-f", name, check=False)
            run("ctr", "-n", namespace, "containers", "rm", name, check=False)

        self._cleanups.append(remove)

        def pid() -> int:
            for line in run("ctr", "-n", namespace, "task", "ls", check=False).splitlines()[1:]:
                parts = line.split()
                if parts and parts[0] == name and parts[2] == "RUNNING":
                    return int(parts[1])
            return 0

        return self._add(
            Started("containerd", name, name, _wait_pid(pid), {"namespace": namespace})
        )

    # --- raw runc ---------------------------------------------------------------------------
    def runc(
        self,
        cmd: tuple[str, ...] = ("/bin/sleep", "100000"),
        root: str = "/run/runc",
        distroless: bool = False,
        readonly: bool = True,
        netns: str | None = None,
        name: str | None = None,
        env: list[str] | None = None,
        prepare: Callable[[Path], None] | None = None,
    ) -> Started:
        """Start a runc container with its own network namespace (or ``netns``, a path).

        ``prepare`` is called with the root filesystem's path before the container starts, to
        plant files (a malicious symlink, a config) in it.
        """
        name = name or unique("dt-runc")
        bundle = WORK / "bundles" / name
        (bundle / "rootfs").mkdir(parents=True)
        with tarfile.open(rootfs_tar(distroless)) as tar:
            tar.extractall(bundle / "rootfs")
        if prepare is not None:
            prepare(bundle / "rootfs")
        run("runc", "spec", "--bundle", str(bundle))
        config = json.loads((bundle / "config.json").read_text())
        config["process"]["terminal"] = False
        config["process"]["args"] = list(cmd)
        if env:
            config["process"]["env"] += env
        config["root"]["readonly"] = readonly
        config["hostname"] = name[:60]
        if netns:
            for ns in config["linux"]["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = netns
        (bundle / "config.json").write_text(json.dumps(config))
        _become_subreaper()
        # The detached container inherits runc's stdio: give it files, not pipes we would wait on.
        with open(bundle / "runc.log", "wb") as errors:
            proc = subprocess.run(
                ["runc", "--root", root, "run", "-d", "--bundle", str(bundle), name],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                timeout=60,
            )
        if proc.returncode != 0:
            log = (bundle / "runc.log").read_text(errors="replace")
            shutil.rmtree(bundle, ignore_errors=True)
            raise RuntimeError(f"runc run failed: {log}")

        state = json.loads(run("runc", "--root", root, "state", name))

        def remove() -> None:
            run("runc", "--root", root, "delete", "-f", name, check=False)
            _reap(int(state["pid"]))
            # A zombie init (this VM's PID 1 never reaps) can make the first delete fail.
            run("runc", "--root", root, "delete", "-f", name, check=False)
            shutil.rmtree(bundle, ignore_errors=True)

        self._cleanups.append(remove)
        return self._add(
            Started("runc", name, name, int(state["pid"]), {"root": root, "bundle": str(bundle)})
        )

    # --- a sandbox no runtime owns ----------------------------------------------------------
    def sandbox(self, cmd: tuple[str, ...] = ("/bin/busybox", "sleep", "100000")) -> Started:
        """Start ``unshare --pid --fork --mount-proc --net --uts`` around ``cmd``."""
        proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--net", "--uts", "--ipc", *cmd],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )

        def remove() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

        self._cleanups.append(remove)

        def child() -> int:
            try:
                kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            except OSError:
                return 0
            return int(kids[0]) if kids else 0

        pid = _wait_pid(child)
        return self._add(Started("none", f"pid-{pid}", cmd[0], pid, {"unshare_pid": proc.pid}))

    def _add(self, started: Started) -> Started:
        self.started.append(started)
        return started

    def cleanup(self) -> None:
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception as exc:  # keep removing the rest
                print(f"harness cleanup failed: {exc}")

    def __enter__(self) -> Containers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
