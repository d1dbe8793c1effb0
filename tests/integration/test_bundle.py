"""Support bundles of real containers: secrets planted in env, argv, logs and labels never
survive; ordinary text does; the reader, verify, show and report work on what was written; a hung
Docker daemon, SIGTERM and --max-size still give a valid bundle."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest

from debugtool.bundle import reader

SECRETS = {
    "env": "EnvS3cretValue42",
    "argv": "ArgvS3cretValue77",
    "log": "LogS3cretValue55",
    "label": "LabelS3cretValue99",
    "token": "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "url": "UrlPassw0rd88",
    # issue 11: shapes that reached inspect.json unmasked
    "name-key": "MyAppK3yValue42",  # MYAPP_KEY=
    "stripe": "sk_live_0000DebugtoolFake1234",  # under a name that says nothing
    "odbc": "Conn Pw 77x",  # ...;Pwd=Conn Pw 77x;
    "base64": "cGFzc3dvcmQ9QjY0UzNjcmV0VmFsdWU=",  # password=B64S3cretValue
    "base64-text": "B64S3cretValue",
    "ceph": "AQBkZWJ1Z3Rvb2wtY2VwaC1mYWtlLWtleS0xMg==",
    "attached-p": "ArgvShortS3cret",  # -pArgvShortS3cret to a program not known to take it
}
# Next to them, look-alikes that must survive: a path under a KEY_FILE, a keyboard, a port.
ORDINARY_ENV = ("KEYBOARD_LAYOUT=us", "SSL_KEY_FILE=/etc/ssl/x.pem", "PWD=/home/app")
SCRIPT = (
    f'echo "connecting to postgres://app:{SECRETS["url"]}@db.internal:5432/orders"; '
    f'echo "login with password={SECRETS["log"]} and token {SECRETS["token"]}"; '
    'echo "hello from the bundle test, version 1.2.3"; '
    "while true; do sleep 1000; done"
)


@pytest.fixture(scope="module")
def planted(module_containers: harness.Containers) -> dict[str, harness.Started]:
    """Containers on four runtimes; the Docker one carries secrets in every place."""
    started = {
        "docker": module_containers.docker(
            "-e",
            f"DB_PASSWORD={SECRETS['env']}",
            "-e",
            "APP_VERSION=1.2.3",
            "-e",
            f"MYAPP_KEY={SECRETS['name-key']}",
            "-e",
            f"STRIPE={SECRETS['stripe']}",
            "-e",
            f"CONN=Server=db.internal;Database=orders;Uid=sa;Pwd={SECRETS['odbc']};",
            "-e",
            f"BLOB={SECRETS['base64']}",
            "-e",
            f"CEPH={SECRETS['ceph']}",
            *(arg for env in ORDINARY_ENV for arg in ("-e", env)),
            "--label",
            f"com.example.api-token={SECRETS['label']}",
            "--label",
            "org.opencontainers.image.version=1.2.3",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock:ro",
            cmd=(
                *("sh", "-c", SCRIPT, "app", "--password", SECRETS["argv"]),
                *("-p", "8080", f"-p{SECRETS['attached-p']}"),
            ),
        ),
        "podman": module_containers.podman(
            cmd=("sh", "-c", "echo hello from podman; sleep 100000")
        ),
        "containerd": module_containers.containerd(),
        "runc": module_containers.runc(),
    }
    time.sleep(1.0)  # let the shells print their lines
    return started


@pytest.fixture(scope="module")
def bundle(planted: dict[str, harness.Started], tmp_path_factory: pytest.TempPathFactory) -> str:
    from harness import run_cli

    path = str(tmp_path_factory.mktemp("bundle") / "b.tar.gz")
    ids = [s.id for s in planted.values()]
    proc = run_cli("bundle", *ids, "-o", path, "--json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["path"] == path and summary["containers"] == 4
    return path


def every_member(path: str) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        for info in tar:
            data = tar.extractfile(info).read() if info.isfile() else b""  # type: ignore[union-attr]
            yield info.name, data


def test_no_planted_secret_survives_anywhere(bundle: str) -> None:
    names = []
    for name, data in every_member(bundle):
        names.append(name)
        for where, secret in SECRETS.items():
            assert secret.encode() not in data, f"{where} secret survived in {name}"
            assert secret.encode() not in name.encode()
    # The raw archive, decompressed as one stream, holds none either.
    import gzip

    raw = gzip.decompress(Path(bundle).read_bytes())
    for secret in SECRETS.values():
        assert secret.encode() not in raw
    assert any(n.endswith("/logs.txt") for n in names)
    redactions = json.loads(
        next(d for n, d in every_member(bundle) if n.endswith("redactions.json"))
    )
    rules = {r["rule"] for r in redactions["redactions"]}
    assert {"secret-env", "secret-key", "secret-flag", "github-token", "url-password"} <= rules
    assert {
        "stripe-key",
        "connection-string-password",
        "base64-secret",
        "ceph-key",
        "password-flag",
    } <= rules
    assert all(set(r) == {"rule", "file", "count"} for r in redactions["redactions"])


def test_ordinary_text_survives(bundle: str, planted: dict[str, harness.Started]) -> None:
    docker = planted["docker"]
    b = reader.open_bundle(bundle)
    inspect = json.dumps(b.inspect(docker.id))
    assert docker.id in inspect
    assert "debugtool-test/busybox:latest" in inspect
    assert "APP_VERSION=1.2.3" in inspect
    assert '"org.opencontainers.image.version": "1.2.3"' in inspect
    logs = b.logs(docker.id)
    assert "hello from the bundle test, version 1.2.3" in logs
    assert "postgres://app:***REDACTED***@db.internal:5432/orders" in logs
    snap = b.snapshot(docker.id)
    root = next(m for m in snap.mounts if m.mountpoint == "/")
    assert re.fullmatch(r"/var/lib/docker/overlay2/[0-9a-f]{64}/merged", root.host_path)


def test_env_and_argv_in_inspect_and_snapshot(
    bundle: str, planted: dict[str, harness.Started]
) -> None:
    """The container's environment and argv land in inspect.json (Config.Env, Config.Cmd,
    Args) and snapshot.json (the processes' command lines): every secret is masked in both,
    where it stood, and the look-alikes beside them are left as they were."""
    docker = planted["docker"]
    folder = f"docker-{docker.name}-{docker.id[:12]}/"
    docs = {
        name.rsplit("/", 1)[-1]: data
        for name, data in every_member(bundle)
        if folder in name and name.endswith(("/inspect.json", "/snapshot.json"))
    }
    assert set(docs) == {"inspect.json", "snapshot.json"}
    for name, data in docs.items():
        for where, secret in SECRETS.items():
            assert secret.encode() not in data, f"{where} secret survived in {name}"
    env = json.loads(docs["inspect.json"])["Config"]["Env"]
    for masked in ("MYAPP_KEY", "STRIPE", "BLOB", "CEPH"):
        assert f"{masked}=***REDACTED***" in env
    assert "CONN=Server=db.internal;Database=orders;Uid=sa;Pwd=***REDACTED***;" in env
    assert set(ORDINARY_ENV) <= set(env)
    snap = reader.load_snapshot(bundle, docker.name)
    cmdline = next(p.cmdline for p in snap.processes if "--password" in p.cmdline)
    assert cmdline[-3:] == ["-p", "8080", "-p***REDACTED***"]


def test_every_container_and_collector(bundle: str, planted: dict[str, harness.Started]) -> None:
    b = reader.open_bundle(bundle)
    assert b.complete
    assert {c.id for c in b.containers} >= {s.id for s in planted.values()}
    for runtime, started in planted.items():
        records = {r["name"]: r for r in b.collectors(started.id)}
        for name in ("inspect", "snapshot", "raw", "cgroup-samples"):
            assert records[name]["status"] == "ok", (runtime, name, records[name])
        snap = b.snapshot(started.id)
        assert snap.processes and snap.processes[0].nspid == 1, runtime
        assert snap.mounts, runtime
        samples = b.cgroup_samples(started.id)
        assert len(samples) >= 2, runtime
        assert samples[0].sampled_at < samples[-1].sampled_at
        assert samples[-1].memory_usage, runtime
    assert "hello from podman" in b.logs(planted["podman"].id)
    # A raw runc container keeps no logs: recorded as skipped with the reason, not an error.
    (runc_logs,) = [r for r in b.collectors(planted["runc"].id) if r["name"] == "logs"]
    assert runc_logs["status"] == "skipped" and "keeps no log file" in runc_logs["error"]
    # The folder names are readable: runtime-name-shortid.
    dirs = {c["dir"] for c in b.manifest["containers"]}
    docker = planted["docker"]
    assert f"docker-{docker.name}-{docker.id[:12]}" in dirs
    host = {r["name"]: r["status"] for r in b.collectors(None)}
    for name in ("host/kernel", "host/os-release", "host/cgroups", "host/runtimes", "host/audit"):
        assert host[name] == "ok"
    assert b.member("host/os-release")
    argv = json.loads(b.member("host/debugtool.json") or b"{}")["command_line"]
    assert argv[:2] == ["debugtool", "bundle"]


def test_risky_mount_and_load_snapshot(bundle: str, planted: dict[str, harness.Started]) -> None:
    docker = planted["docker"]
    snap = reader.load_snapshot(bundle, docker.name)
    sock = next(m for m in snap.mounts if m.mountpoint == "/var/run/docker.sock")
    assert sock.risks
    secret_arg = next(p for p in snap.processes if "--password" in p.cmdline)
    assert secret_arg.cmdline[secret_arg.cmdline.index("--password") + 1] == "***REDACTED***"


def test_verify_and_show(bundle: str, cli, tmp_path: Path) -> None:
    ok = cli("bundle", "verify", bundle)
    assert ok.returncode == 0 and ok.stdout.strip() == f"{bundle}: ok"
    shown = cli("bundle", "show", bundle)
    assert shown.returncode == 0, shown.stderr
    assert "REDACTION RULE" in shown.stdout and "secret-env" in shown.stdout
    assert "SNAPSHOT" in shown.stdout and "host/kernel" in shown.stdout
    as_json = json.loads(cli("bundle", "show", bundle, "--json").stdout)
    assert as_json["complete"] is True and len(as_json["containers"]) == 4
    # A corrupted member is named, exit 1.
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bundle, "r:gz") as tin, tarfile.open(bad, "w:gz") as tout:
        for info in tin:
            data = tin.extractfile(info).read()  # type: ignore[union-attr]
            if info.name.endswith("host/kernel.txt"):
                data = data.replace(b"Linux", b"Lunix", 1)
            tout.addfile(info, __import__("io").BytesIO(data))
    corrupt = cli("bundle", "verify", str(bad))
    assert corrupt.returncode == 1
    assert "host/kernel.txt: checksum mismatch" in corrupt.stdout
    not_bundle = tmp_path / "notes.txt"
    not_bundle.write_text("not a bundle\n")
    res = cli("bundle", "verify", str(not_bundle))
    assert res.returncode == 125 and "is not a debugtool bundle" in res.stderr
    res = cli("bundle", "verify", str(tmp_path / "missing.tar.gz"))
    assert res.returncode == 125 and "there is no bundle at" in res.stderr


def test_report_in_headless_chromium(bundle: str, planted: dict[str, harness.Started]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(bundle, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        (root,) = os.listdir(tmp)
        page = Path(tmp, root, "report.html")
        html = page.read_text()
        assert not re.search(r"https?://", html)
        assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", html)
        base = [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp}/profile",
        ]
        dom = subprocess.run(
            [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90
        ).stdout
        docker = planted["docker"]
        assert docker.name in dom
        assert "Processes (" in dom and "Mounts (" in dom and "Sockets" in dom
        assert 'class="risk"' in dom and "container runtime socket (docker.sock)" in dom
        assert "hello from the bundle test" in dom
        assert "secret-env" in dom  # the redaction table
        # The script ran: one container section is shown, the others hidden.
        assert dom.count("<section") - dom.count("<section hidden") >= 1
        assert "hidden" in dom
        shot = Path(tmp, "shot.png")
        subprocess.run(
            [*base, "--window-size=1280,900", f"--screenshot={shot}", page.as_uri()],
            capture_output=True,
            timeout=90,
        )
        assert shot.stat().st_size > 10_000
        keep = os.environ.get("DEBUGTOOL_KEEP_SCREENSHOT")
        if keep:
            Path(keep).write_bytes(shot.read_bytes())


class HungSocket:
    """A unix socket that accepts connections and never answers (a hung daemon)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        for conn in self.held:
            conn.close()
        os.unlink(self.path)


def test_hung_docker_daemon_does_not_hang_the_bundle(
    planted: dict[str, harness.Started], cli, tmp_path: Path
) -> None:
    hung = HungSocket(str(tmp_path / "docker.sock"))
    try:
        out = tmp_path / "hung.tar.gz"
        docker = planted["docker"]
        proc = cli(
            "bundle",
            docker.name,  # found by name through Docker's state files
            "-o",
            str(out),
            "--json",
            env={"DOCKER_HOST": f"unix://{hung.path}"},
            timeout=90,
        )
    finally:
        hung.close()
    assert proc.returncode == 0, proc.stderr
    b = reader.open_bundle(str(out))
    (container,) = b.containers
    assert container.id == docker.id and container.name == docker.name
    assert container.runtime == "docker"  # listed from Docker's state files
    assert container.metadata["docker"]["source"] == "state files"
    discovery = json.loads(b.member("host/discovery.json") or b"{}")
    assert any(w.startswith("docker:") for w in discovery["warnings"])
    assert b.snapshot(docker.id).processes
    assert "hello from the bundle test" in b.logs(docker.id)  # read from Docker's log file
    for secret in SECRETS.values():
        assert all(secret.encode() not in data for _, data in every_member(str(out)))


def test_sigterm_writes_a_valid_incomplete_bundle(
    planted: dict[str, harness.Started], tmp_path: Path
) -> None:
    out = tmp_path / "term.tar.gz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "bundle", "--all", "--samples", "60", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)  # discovery done, the cgroup sampler is in its 30-second window
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "INCOMPLETE: SIGTERM" in stdout
    assert reader.verify_bundle(str(out)) == []
    b = reader.open_bundle(str(out))
    assert b.complete is False and b.manifest["interrupted"] == "SIGTERM"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_max_size_drops_logs_first(containers: harness.Containers, cli, tmp_path: Path) -> None:
    noisy = containers.docker(
        cmd=("sh", "-c", "head -c 600000 /dev/urandom | od -x; sleep 100000"),
    )
    time.sleep(2)
    out = tmp_path / "small.tar.gz"
    proc = cli(
        "bundle", noisy.id, "-o", str(out), "--log-lines", "0", "--max-size", "150K", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert out.stat().st_size <= 150 * 1024
    assert summary["dropped"] and summary["dropped"][0]["file"].endswith("/logs.txt")
    b = reader.open_bundle(str(out))
    logs = next(r for r in b.collectors(noisy.id) if r["name"] == "logs")
    assert logs["status"] == "truncated"
    assert b.snapshot(noisy.id).processes  # the snapshot was kept
    assert b.inspect(noisy.id)


def test_container_named_verify_can_be_bundled(
    containers: harness.Containers, cli, tmp_path: Path
) -> None:
    started = containers.docker(name="verify")
    out = tmp_path / "v.tar.gz"
    proc = cli("bundle", "-o", str(out), "--", "verify")
    assert proc.returncode == 0, proc.stderr
    assert [c.id for c in reader.open_bundle(str(out)).containers] == [started.id]


def test_progress_bar_on_a_terminal(planted: dict[str, harness.Started], tmp_path: Path) -> None:
    master, slave = pty.openpty()
    out = tmp_path / "p.tar.gz"
    ids = [planted["docker"].id, planted["runc"].id]
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "bundle", *ids, "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    stdout, _ = proc.communicate(timeout=60)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"bundling [" in seen and b"2/2" in seen
    assert stdout.decode().startswith(f"bundle written: {out} (")
    assert "2 containers" in stdout.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bundle"], "no container given"),
        (["bundle", "no-such-container-xyz"], "no container matches 'no-such-container-xyz'"),
        (["bundle", "--all", "x"], "give containers or --all, not both"),
        (["bundle", "--all", "--max-size", "lots"], "'lots' is not a size"),
        (["bundle", "--all", "--since", "soon"], "'soon' is not a duration"),
        (["bundle", "verify"], "the following arguments are required: FILE"),
        (["bundle", "--all", "-o", "/nonexistent/dir/b.tar.gz"], "/nonexistent/dir does not exist"),
        (["bundle", "--all", "-o", "/dev/null"], "/dev/null is a character device, not a regular"),
    ],
)
def test_bad_input(cli, args: list[str], message: str) -> None:
    proc = cli(*args)
    assert proc.returncode == 125
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_commands_read_a_bundle(bundle: str, planted: dict[str, harness.Started], cli) -> None:
    docker = planted["docker"]
    top = cli("top", "--bundle", bundle, docker.name)
    assert top.returncode == 0, top.stderr
    assert "sleep 1000" in top.stdout and "--password ***REDACTED***" in top.stdout
    mounts = cli("mounts", "--bundle", bundle, docker.name, "--json")
    assert mounts.returncode == 0, mounts.stderr
    assert any(m["mountpoint"] == "/var/run/docker.sock" for m in json.loads(mounts.stdout))
    net = cli("net", "--bundle", bundle, docker.id[:12], "--json")
    assert net.returncode == 0, net.stderr
    assert any(i["name"] == "eth0" for i in json.loads(net.stdout)["interfaces"])
    missing = cli("top", "--bundle", bundle, "no-such-one")
    assert missing.returncode == 125
    assert "holds no container matching 'no-such-one'" in missing.stderr
