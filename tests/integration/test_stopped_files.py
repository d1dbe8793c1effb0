"""Files of stopped containers, read-only from their runtime's storage: ``console`` and
``bundle`` on stopped Docker (busybox and distroless), podman and containerd containers.

Each container writes a file and deletes one before it is killed, so the view must hold the
container's own layer (the new file) and honour its whiteout (the deleted one). The layer
directories are named by the runtime's own client (``docker inspect``, ``podman inspect``,
``ctr snapshots mounts``), not by debugtool, and hashed before and after: every entry's type,
mode, owner, size, mtime, ctime, xattrs, link target and contents must be the same, and no
mount of them may be left in any mount namespace.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import harness
import pytest

WRITTEN = "written-before-stop"
#: What every test container does before it is killed: write a file, delete one, then wait.
#: busybox is called by its full path, so the distroless image (no applet links) runs it too.
SCRIPT = (
    f"/bin/busybox echo {WRITTEN} > /etc/written && /bin/busybox rm /etc/group && "
    "exec /bin/busybox sleep 100000"
)
CMD = ("/bin/busybox", "sh", "-c", SCRIPT)
READ = "cat /etc/passwd; ls /bin; cat /etc/written; ls /etc"


def fingerprint(dirs: list[str]) -> dict[str, tuple]:
    """Every entry under ``dirs`` with what a write would change: type and mode, owner, size,
    mtime and ctime (ns), device number, xattrs, link target, contents' SHA-256."""
    seen: dict[str, tuple] = {}
    for top in dirs:
        walked = os.walk(top) if os.path.isdir(top) else [(top, [], [])]
        for parent, subdirs, files in walked:
            for name in [".", *subdirs, *files]:
                path = os.path.normpath(os.path.join(parent, name))
                st = os.lstat(path)
                xattrs = tuple(
                    (key, os.getxattr(path, key, follow_symlinks=False))
                    for key in sorted(os.listxattr(path, follow_symlinks=False))
                )
                extra: str | bytes = ""
                if os.path.islink(path):
                    extra = os.readlink(path)
                elif os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as f:
                        extra = hashlib.sha256(f.read()).hexdigest()
                seen[path] = (
                    st.st_mode,
                    st.st_uid,
                    st.st_gid,
                    st.st_size,
                    st.st_mtime_ns,
                    st.st_ctime_ns,
                    st.st_rdev,
                    st.st_nlink,
                    xattrs,
                    extra,
                )
    assert seen, f"nothing under {dirs}"
    return seen


def mounted_anywhere(path: str) -> set[str]:
    """The mounts, in any process's mount namespace, that name ``path`` (a mount of it, or an
    overlay with it among its layers): their mountinfo lines, by namespace."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ns = os.readlink(f"/proc/{pid}/ns/mnt")
            text = Path(f"/proc/{pid}/mountinfo").read_text(errors="replace")
        except OSError:
            continue
        found |= {f"{ns} {line}" for line in text.splitlines() if path in line}
    return found


def layer_mounts_but_the_runtimes(upper: str) -> set[str]:
    """The mounts that name the container's layer other than as the ``upperdir`` of the
    runtime's own mount (a stopped containerd task keeps its root mounted until it is removed,
    and copies of it live in every mount namespace made since): an overlay with the layer among
    its lowerdirs, or a bind of it, would be debugtool's."""
    return {
        line
        for line in mounted_anywhere(upper)
        if line.replace(f"upperdir={upper},", "").replace(f"upperdir={upper} ", "").count(upper)
    }


def docker_layers(cid: str) -> tuple[str, list[str]]:
    """The container's layer and its image's, and the files Docker bind-mounts into it (the
    view binds them again, read-only)."""
    graph = json.loads(harness.run("docker", "inspect", "-f", "{{json .GraphDriver}}", cid))
    assert graph["Name"] == "overlay2"
    binds = [
        harness.run("docker", "inspect", "-f", f"{{{{.{key}}}}}", cid).strip()
        for key in ("HostsPath", "ResolvConfPath", "HostnamePath")
    ]
    return graph["Data"]["UpperDir"], [*graph["Data"]["LowerDir"].split(":"), *binds]


def podman_layers(cid: str) -> tuple[str, list[str]]:
    graph = json.loads(harness.run("podman", "inspect", "-f", "{{json .GraphDriver}}", cid))
    assert graph["Name"] == "overlay"
    return graph["Data"]["UpperDir"], graph["Data"]["LowerDir"].split(":")


def ctr_layers(name: str, namespace: str) -> tuple[str, list[str]]:
    """The overlay ctr itself would mount for the container's snapshot (it prints the
    ``mount`` command line)."""
    line = harness.run("ctr", "-n", namespace, "snapshots", "mounts", "/nonexistent", name)
    options = dict(o.partition("=")[::2] for o in re.search(r"-o (\S+)", line).group(1).split(","))
    return options["upperdir"], options["lowerdir"].split(":")


def stop(c: harness.Started) -> None:
    """Wait until the container wrote its file, then kill it and wait until it is stopped."""
    harness.wait_for(
        lambda: os.path.lexists(f"/proc/{c.pid}/root/etc/written"), "the container never wrote"
    )
    if c.runtime in ("docker", "podman"):
        harness.run(c.runtime, "kill", c.id)
        harness.run(c.runtime, "wait", c.id)
    else:
        ns = c.extra["namespace"]
        harness.run("ctr", "-n", ns, "task", "kill", "-s", "KILL", c.name)

        def stopped() -> bool:
            rows = harness.run("ctr", "-n", ns, "task", "ls", check=False).splitlines()
            return any(r.split()[:1] == [c.name] and "STOPPED" in r for r in rows)

        harness.wait_for(stopped, "the containerd task never stopped")


def started(containers: harness.Containers, runtime: str, image: str) -> harness.Started:
    if runtime == "docker":
        return containers.docker(image=image, cmd=CMD)
    if runtime == "podman":
        return containers.podman(image=image, cmd=CMD)
    return containers.containerd(image=image, cmd=CMD)


def layers(c: harness.Started) -> tuple[str, list[str]]:
    if c.runtime == "docker":
        return docker_layers(c.id)
    if c.runtime == "podman":
        return podman_layers(c.id)
    return ctr_layers(c.name, c.extra["namespace"])


CASES = [
    ("docker", harness.DOCKER_IMAGE),
    ("docker", harness.DISTROLESS_IMAGE),
    ("podman", harness.DOCKER_IMAGE),
    ("podman", harness.DISTROLESS_IMAGE),
    ("containerd", harness.DOCKER_IMAGE),
    ("containerd", harness.DISTROLESS_IMAGE),
]


@pytest.mark.parametrize(("runtime", "image"), CASES)
def test_console_reads_a_stopped_container_from_storage(
    containers: harness.Containers, cli, runtime: str, image: str
) -> None:
    c = started(containers, runtime, image)
    stop(c)
    upper, lowers = layers(c)
    if runtime != "containerd":  # a stopped containerd task keeps its root mounted until removed
        harness.wait_for(lambda: not mounted_anywhere(upper), f"{runtime} never unmounted {upper}")
    assert layer_mounts_but_the_runtimes(upper) == set()
    before = fingerprint([upper, *lowers])

    result = cli("console", c.id, "-c", READ)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    passwd, rest = out.split("nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", 1)
    assert "app:x:1000:1000:app user:/home/app:/bin/sh\n" in passwd  # the image's /etc/passwd
    assert f"\n{WRITTEN}\n" in rest  # the container's own layer
    bin_listing, etc_listing = rest.split(f"{WRITTEN}\n")
    bins = bin_listing.splitlines()
    assert "busybox" in bins
    if image == harness.DISTROLESS_IMAGE:
        assert bins == ["busybox"]
    else:
        assert "sleep" in bins and "sh" in bins
    listed = etc_listing.splitlines()  # the last command: ls /etc
    assert "passwd" in listed and "written" in listed
    assert "group" not in listed  # deleted by the container: its whiteout hides the image's
    first = result.stderr.splitlines()[0]
    assert "no processes" in first and "storage" in first, result.stderr
    assert "Traceback" not in result.stderr

    assert fingerprint([upper, *lowers]) == before  # not a byte, mode, time or xattr changed
    assert layer_mounts_but_the_runtimes(upper) == set()  # none of debugtool's was left


def test_deleted_file_and_process_commands(containers: harness.Containers, cli) -> None:
    c = started(containers, "docker", harness.DOCKER_IMAGE)
    stop(c)
    result = cli(
        "console",
        c.name,
        "-c",
        "cat /etc/group; ps; exec ls; env; mounts; cat /etc/hostname; cat /etc/written",
    )
    assert result.returncode == 0, result.stderr  # the last command worked
    err = result.stderr
    assert "cat: /etc/group: no such file or directory in the container." in err
    for command in ("ps", "exec", "env"):
        assert re.search(
            rf"^{command}: container {c.name} is exited: it has no processes and nothing can run",
            err,
            re.M,
        ), err
    upper, _ = docker_layers(c.id)
    # 'mounts' of a stopped container: the layers its root is read from.
    assert f"  container  {upper}\n" in result.stdout
    # Docker's /etc/hostname (a bind of its containers/ID/hostname), bound into the view again.
    assert result.stdout.endswith(f"{c.id[:12]}\n{WRITTEN}\n")


def test_created_container_shows_its_image(containers: harness.Containers, cli) -> None:
    name = harness.unique("dt-created")
    cid = harness.run("docker", "create", "--name", name, harness.DOCKER_IMAGE, "/bin/true").strip()
    containers._cleanups.append(lambda: harness.run("docker", "rm", "-f", cid, check=False))
    result = cli("console", cid, "-c", "cat /etc/group; ls /etc")
    assert result.returncode == 0, result.stderr
    assert "app:x:1000:" in result.stdout and "written" not in result.stdout
    assert "is created: no processes" in result.stderr


def test_no_helper_and_no_mount_while_the_session_runs(containers: harness.Containers) -> None:
    """The view is a detached mount held by a descriptor of the console itself: no helper
    process, and no mount namespace (the host's, the runtime's, any other) shows it."""
    c = started(containers, "docker", harness.DOCKER_IMAGE)
    stop(c)
    upper, lowers = docker_layers(c.id)
    harness.wait_for(lambda: not mounted_anywhere(upper), "docker never unmounted the container")
    before = fingerprint([upper, *lowers])
    proc = subprocess.Popen(
        [sys.executable, "-m", "debugtool", "console", c.id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("cat /etc/written\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == f"{WRITTEN}\n"
        # Mid-session: the console's view is open, yet it has no child and nothing mounts it.
        children = [
            Path(f"/proc/{proc.pid}/task/{t}/children").read_text().split()
            for t in os.listdir(f"/proc/{proc.pid}/task")
        ]
        assert children == [[] for _ in children]
        assert mounted_anywhere(upper) == set()
        proc.stdin.write("exit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert fingerprint([upper, *lowers]) == before
    assert mounted_anywhere(upper) == set()


def test_bundle_of_a_stopped_container(containers: harness.Containers, cli, tmp_path: Path) -> None:
    c = started(containers, "docker", harness.DISTROLESS_IMAGE)
    stop(c)
    upper, lowers = docker_layers(c.id)
    harness.wait_for(lambda: not mounted_anywhere(upper), "docker never unmounted the container")
    before = fingerprint([upper, *lowers])
    out = tmp_path / "stopped.tar.gz"
    result = cli("bundle", c.id, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert cli("bundle", "verify", str(out)).returncode == 0

    with tarfile.open(out) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers()}
        manifest = json.load(tar.extractfile(members["manifest.json"]))
        (record,) = manifest["containers"]
        folder = f"containers/{record['dir']}"

        def member(rel: str) -> bytes:
            return tar.extractfile(members[f"{folder}/{rel}"]).read()

        assert record["not_running"] is True and record["status"] == "exited"
        assert b"app:x:1000:1000" in member("files/etc/passwd")
        assert f"{folder}/files/etc/group" not in members  # deleted before the stop
        index = {e["path"]: e for e in json.loads(member("files.json"))}
        assert index["/etc/passwd"]["status"] == "ok"
        assert index["/etc/group"]["status"] == "missing"
        storage = json.loads(member("storage.json"))
        assert storage["read_from"] == "storage"
        assert storage["layers"]["upper"] == upper
        binds = [p for p in lowers if "/containers/" in p]  # Docker's, beside the layers
        assert storage["layers"]["lowers"] == [p for p in lowers if p not in binds]
        assert sorted(storage["binds"].values()) == sorted(binds)
        assert member("files/etc/hostname") == f"{c.id[:12]}\n".encode()
        assert "logs.txt" in {n.rsplit("/", 1)[-1] for n in members}
    collectors = {(r["container"], r["name"]): r for r in manifest["collectors"]}
    assert collectors[(c.id, "files")]["status"] == "ok"
    assert collectors[(c.id, "snapshot")]["status"] == "skipped"
    assert fingerprint([upper, *lowers]) == before
    assert mounted_anywhere(upper) == set()


def test_hostile_upper_layer_opens_nothing(containers: harness.Containers, tmp_path: Path) -> None:
    """The container, as its own root, leaves in its layer an /etc/passwd linking out of the
    root, a FIFO at /etc/nsswitch.conf and a device at /etc/os-release (both paths the bundle
    collects; Docker's /etc/hosts and resolv.conf are bind mounts, not in the layer). Stopped,
    neither console nor bundle opens them, and the link resolves inside the container's
    root."""
    from test_hostile_files import DEVICE, assert_never_opened, traced

    major, minor = DEVICE
    hostile = (
        "cd /etc && /bin/busybox rm passwd && "
        "/bin/busybox ln -s /../../../../../../etc/shadow passwd && "
        "/bin/busybox echo container-shadow-marker > shadow && "
        f"/bin/busybox mkfifo nsswitch.conf && /bin/busybox mknod os-release c {major} {minor} && "
        f"{SCRIPT}"
    )
    c = containers.docker(cmd=("/bin/busybox", "sh", "-c", hostile))
    stop(c)
    host_shadow = Path("/etc/shadow").read_text().splitlines()[0]

    result, opened = traced(
        tmp_path,
        "console",
        c.id,
        "-c",
        "cat /etc/passwd; cat /etc/nsswitch.conf; cat /etc/os-release",
    )
    assert "container-shadow-marker" in result.stdout  # resolved inside the container's root
    assert host_shadow not in result.stdout
    assert "cat: /etc/nsswitch.conf: is a FIFO, not a regular file" in result.stderr
    assert f"cat: /etc/os-release: is a character device ({major}:{minor})" in result.stderr
    assert_never_opened(opened, "/etc/nsswitch.conf", "/etc/os-release")

    out = tmp_path / "hostile.tar.gz"
    result, opened = traced(tmp_path, "bundle", c.id, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert_never_opened(opened, "/etc/nsswitch.conf", "/etc/os-release")
    with tarfile.open(out) as tar:
        names = {m.name.split("/", 1)[1]: m for m in tar.getmembers()}
        (index_name,) = [n for n in names if n.endswith("/files.json")]
        index = {e["path"]: e for e in json.load(tar.extractfile(names[index_name]))}
        passwd = tar.extractfile(names[index_name.replace("files.json", "files/etc/passwd")])
        assert passwd.read() == b"container-shadow-marker\n"
    assert "is a FIFO" in index["/etc/nsswitch.conf"]["why"]
    assert "character device" in index["/etc/os-release"]["why"]


def test_missing_snapshot_is_one_sentence(containers: harness.Containers, cli) -> None:
    c = started(containers, "containerd", harness.DOCKER_IMAGE)
    stop(c)
    ns = c.extra["namespace"]
    harness.run("ctr", "-n", ns, "task", "rm", c.name)
    harness.run("ctr", "-n", ns, "snapshots", "rm", c.name)
    result = cli("console", c.id, "-c", "ls /")
    assert result.returncode == 125
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"debugtool: snapshot {c.name} of container {c.name} is not known to containerd, so its "
        "files cannot be read"
    ), lines[0]
    assert "Traceback" not in result.stderr


def test_runc_container_has_no_storage_to_read(containers: harness.Containers, cli) -> None:
    """A raw runc container's root is wherever its bundle put it: once it is gone, debugtool
    says so in a sentence (and names the runtimes it can read)."""
    c = containers.runc()
    harness.run("runc", "--root", c.extra["root"], "kill", c.id, "KILL")
    harness.wait_for(
        lambda: "stopped" in harness.run("runc", "--root", c.extra["root"], "state", c.id),
        "runc never stopped the container",
    )
    result = cli("console", c.id, "-c", "ls /")
    assert result.returncode == 125
    assert "runc container, whose files live only while it runs" in result.stderr
