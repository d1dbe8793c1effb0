"""Where each runtime keeps a stopped container's layers, on directories laid out as the
runtimes lay them out and records captured from them; and the console on a stopped target."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from debugtool.console import Console
from debugtool.model import Container
from debugtool.storage import (
    LayerMissing,
    Layers,
    StorageError,
    UnsupportedDriver,
    containerd,
    docker,
    layers_of,
    podman,
)
from debugtool.storage.layers import lower_file
from debugtool.storage.overlay import Overlay

CID = "f3258ac84679c186d9d7aa9f8d835565c302587921fbb45116b904d428cf5692"
MOUNT = "fa379a2183855dc955fb1717e33b6f306133c65f240ce75198535b4183394260"
IMAGE = "7445066f91e7943bb5c0447d6a0af459c60eca6fc60e52c3e4418bf41d9a664e"
#: ``GraphDriver`` of ``docker inspect`` of a stopped container on this machine (Docker 20.10).
GRAPH = {
    "Data": {
        "LowerDir": f"/var/lib/docker/overlay2/{MOUNT}-init/diff:/var/lib/docker/overlay2/{IMAGE}/diff",
        "MergedDir": f"/var/lib/docker/overlay2/{MOUNT}/merged",
        "UpperDir": f"/var/lib/docker/overlay2/{MOUNT}/diff",
        "WorkDir": f"/var/lib/docker/overlay2/{MOUNT}/work",
    },
    "Name": "overlay2",
}


def container(runtime: str = "docker", **metadata: object) -> Container:
    return Container(
        id=CID, name="web", runtime=runtime, status="exited", metadata={runtime: dict(metadata)}
    )


def overlay_home(tmp_path: Path, layer: str, lowers: list[str]) -> Path:
    """A driver home as overlay2 and containers/storage lay it out: ``LAYER/{diff,lower}`` and
    ``l/SHORT -> ../ID/diff`` links."""
    home = tmp_path / "overlay2"
    (home / "l").mkdir(parents=True)
    for i, name in enumerate([layer, *lowers]):
        (home / name / "diff").mkdir(parents=True)
        (home / "l" / f"SHORT{i}").symlink_to(f"../{name}/diff")
    if lowers:
        entries = ":".join(f"l/SHORT{i + 1}" for i in range(len(lowers)))
        (home / layer / "lower").write_text(entries)
    return home


def test_lower_file_follows_short_links_and_refuses_escapes(tmp_path: Path) -> None:
    home = overlay_home(tmp_path, "top", ["init", "base"])
    assert lower_file(str(home), "l/SHORT1:l/SHORT2\n", "container web") == [
        f"{home}/init/diff",
        f"{home}/base/diff",
    ]
    (home / "l" / "EVIL").symlink_to("../../../../etc")
    with pytest.raises(LayerMissing, match="points outside"):
        lower_file(str(home), "l/EVIL", "container web")
    with pytest.raises(LayerMissing, match="is not a layer link"):
        lower_file(str(home), "/etc", "container web")
    with pytest.raises(LayerMissing, match="is missing"):
        lower_file(str(home), "l/GONE", "container web")


def test_docker_inspect_names_the_stack() -> None:
    layers = docker.from_inspect(container(), {"GraphDriver": GRAPH})
    assert layers.driver == "overlay2"
    assert layers.upper == f"/var/lib/docker/overlay2/{MOUNT}/diff"
    assert layers.stack == [
        f"/var/lib/docker/overlay2/{MOUNT}/diff",
        f"/var/lib/docker/overlay2/{MOUNT}-init/diff",
        f"/var/lib/docker/overlay2/{IMAGE}/diff",
    ]


@pytest.mark.parametrize("driver", ["vfs", "btrfs", "zfs", "devicemapper", "fuse-overlayfs"])
def test_other_docker_drivers_are_one_sentence_naming_the_driver(driver: str) -> None:
    graph = {"Name": driver, "Data": {"Dir": f"/var/lib/docker/{driver}/dir/{MOUNT}"}}
    with pytest.raises(UnsupportedDriver) as caught:
        docker.from_inspect(container(), {"GraphDriver": graph})
    message = caught.value.message
    assert f"docker's '{driver}' storage driver" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert caught.value.driver == driver


def test_docker_files_when_the_daemon_is_down(tmp_path: Path) -> None:
    root = tmp_path
    home = overlay_home(tmp_path, MOUNT, [f"{MOUNT}-init", IMAGE])
    assert home == root / "overlay2"
    (root / "containers" / CID).mkdir(parents=True)
    (root / "containers" / CID / "config.v2.json").write_text(
        json.dumps({"ID": CID, "Driver": "overlay2", "Name": "/web"})
    )
    mounts = root / "image" / "overlay2" / "layerdb" / "mounts" / CID
    mounts.mkdir(parents=True)
    (mounts / "mount-id").write_text(MOUNT)
    layers = docker.from_files(container(), str(root))
    assert layers.stack == [
        f"{home}/{MOUNT}/diff",
        f"{home}/{MOUNT}-init/diff",
        f"{home}/{IMAGE}/diff",
    ]
    (mounts / "mount-id").write_text("../../etc")
    with pytest.raises(StorageError, match="does not name a layer directory"):
        docker.from_files(container(), str(root))
    (mounts / "mount-id").unlink()
    with pytest.raises(LayerMissing, match="mount-id of container web"):
        docker.from_files(container(), str(root))
    (root / "containers" / CID / "config.v2.json").write_text(
        json.dumps({"ID": CID, "Driver": "btrfs"})
    )
    with pytest.raises(UnsupportedDriver, match="'btrfs'"):
        docker.from_files(container(), str(root))


def test_podman_storage(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    home = overlay_home(root, "ctrlayer", ["imagelayer"])
    (root / "overlay2").rename(root / "overlay")
    conf = tmp_path / "storage.conf"
    conf.write_text('[storage]\ndriver = "overlay"\n')
    c = container("podman", layer="ctrlayer", source="storage")
    layers = podman.from_storage(c, str(root), str(conf))
    home = root / "overlay"
    assert layers.stack == [f"{home}/ctrlayer/diff", f"{home}/imagelayer/diff"]
    assert layers.options == []
    conf.write_text(
        '[storage]\ndriver = "overlay"\n[storage.options.overlay]\nmountopt = "nodev,metacopy=on"\n'
    )
    assert podman.from_storage(c, str(root), str(conf)).options == [
        "metacopy=on",
        "redirect_dir=follow",
    ]
    conf.write_text('[storage]\ndriver = "vfs"\n')
    with pytest.raises(UnsupportedDriver, match="podman's 'vfs' storage driver"):
        podman.from_storage(c, str(root), str(conf))


def test_containerd_mounts() -> None:
    snaps = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"
    c = container("containerd")
    # What Snapshots/Mounts answered for a stopped ctr container on this machine.
    layers = containerd.from_mount(
        c,
        "overlay",
        "overlay",
        [
            "index=off",
            f"workdir={snaps}/570/work",
            f"upperdir={snaps}/570/fs",
            f"lowerdir={snaps}/1/fs",
        ],
    )
    assert layers.stack == [f"{snaps}/570/fs", f"{snaps}/1/fs"]
    assert containerd.from_mount(c, "bind", f"{snaps}/3/fs", ["rbind", "rw"]).upper
    view = containerd.from_mount(c, "bind", f"{snaps}/3/fs", ["rbind", "ro"])
    assert view.upper == "" and view.lowers == [f"{snaps}/3/fs"]


@pytest.mark.parametrize("snapshotter", ["native", "btrfs", "zfs", "devmapper"])
def test_other_snapshotters_are_one_sentence(snapshotter: str) -> None:
    c = container("containerd", snapshotter=snapshotter, snapshot_key="web")
    with pytest.raises(UnsupportedDriver, match=f"containerd's '{snapshotter}' storage driver"):
        layers_of(c)


def test_runtimes_without_storage() -> None:
    for runtime in ("runc", "crun", "none"):
        with pytest.raises(StorageError, match="whose files live only while it runs"):
            layers_of(container(runtime))


def test_a_missing_layer_is_refused_before_any_mount(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "link").symlink_to("base")
    layers = Layers("docker", "overlay2", str(tmp_path / "gone"), [str(tmp_path / "base")])
    with pytest.raises(LayerMissing, match="gone of container web is missing"):
        Overlay(layers, "container web")
    layers = Layers("docker", "overlay2", str(tmp_path / "link"), [str(tmp_path / "base")])
    with pytest.raises(LayerMissing, match="is a symbolic link"):
        Overlay(layers, "container web")


class StoppedTarget:
    """Stands in for a ``StoppedRoot``: no process, files in a plain directory."""

    pid = None

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.name = "web"
        self.container = Container(id=CID, name="web", runtime="docker", status="exited")
        self.layers = Layers("docker", "overlay2", "/upper", ["/init", "/image"], "docker inspect")

    def alive(self) -> bool:
        return True


def test_console_on_a_stopped_target(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    out, err = io.StringIO(), io.StringIO()
    console = Console(StoppedTarget(tmp_path), out=out, err=err)  # type: ignore[arg-type]
    assert console.run_line("ls -l /etc") == 0
    assert " root " in out.getvalue() or os.geteuid() != 0
    for command in ("ps", "tree", "env", "net", "cgroup", "caps", "refresh", "exec ls", "trace 1"):
        err.truncate(0)
        err.seek(0)
        assert console.run_line(command) == 1
        name = command.split()[0]
        assert err.getvalue() == (
            f"{name}: container web is exited: it has no processes and nothing can run in it; "
            "its files are read from its runtime's storage (ls, cat, find, grep work).\n"
        )
    out.truncate(0)
    out.seek(0)
    assert console.run_line("mounts") == 0
    assert out.getvalue().splitlines()[1:] == [
        "  container  /upper",
        "  image      /init",
        "  image      /image",
    ]
    assert console.complete_pids("") == []
    assert console.run_line("cat /etc/passwd") == 0


def test_containerd_chain_from_its_databases(tmp_path: Path) -> None:
    """The offline path (containerd down): meta.db names the snapshot, the snapshotter's own
    database gives its id and its parents'."""
    import gzip

    fixtures = Path(__file__).parent.parent / "fixtures" / "runtimes"
    meta = tmp_path / "meta.db"
    meta.write_bytes(gzip.decompress((fixtures / "containerd-meta.db.gz").read_bytes()))
    snapshotter = tmp_path / "io.containerd.snapshotter.v1.overlayfs"
    snapshotter.mkdir()
    (snapshotter / "metadata.db").write_bytes(
        gzip.decompress((fixtures / "containerd-overlayfs-metadata.db.gz").read_bytes())
    )
    c = Container(
        id="dtp1-23875", name="dtp1-23875", runtime="containerd", namespace="debugtool-test"
    )
    layers = containerd.from_databases(c, str(meta), str(snapshotter), "debugtool-test", c.id)
    assert layers.stack == [f"{snapshotter}/snapshots/570/fs", f"{snapshotter}/snapshots/1/fs"]
    assert layers.upper == f"{snapshotter}/snapshots/570/fs"
    with pytest.raises(LayerMissing, match="snapshot gone of container dtp1-23875 is not in"):
        containerd.from_databases(c, str(meta), str(snapshotter), "debugtool-test", "gone")
    with pytest.raises(StorageError, match="cannot read containerd's snapshot databases"):
        containerd.from_databases(c, str(tmp_path / "none.db"), str(snapshotter), "x", c.id)
