"""Rootless podman stores on captured files: which users are found, where their storage and
state are, and how their containers are read (vfs storage, runc state under XDG_RUNTIME_DIR)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from debugtool import procfs
from debugtool.model import Container
from debugtool.runtimes import podman, rootless
from debugtool.views import containers as container_view

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runtimes"

#: Lines of this host's /etc/passwd, with the awkward ones a real file may hold.
PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
cloudsdk:x:1000:1000::/home/cloudsdk:/bin/bash
dtrootless:x:1001:1001::/home/dtrootless:/bin/sh
# a comment
+@netgroup::::::
broken-line
nohome:x:1002:1002::relative/home:/bin/sh
weird:x:abc:1003::/home/weird:/bin/sh
"""


def test_parse_passwd_keeps_well_formed_users() -> None:
    assert rootless.parse_passwd(PASSWD) == [
        ("root", 0, 0, "/root"),
        ("daemon", 1, 1, "/usr/sbin"),
        ("nobody", 65534, 65534, "/nonexistent"),
        ("cloudsdk", 1000, 1000, "/home/cloudsdk"),
        ("dtrootless", 1001, 1001, "/home/dtrootless"),
    ]


def test_graph_root_default_user_conf_and_system_rootless_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    system = tmp_path / "storage.conf"
    monkeypatch.setattr(rootless, "SYSTEM_STORAGE_CONF", str(system))
    assert (
        rootless.graph_root_for(str(home), "u", 1001) == f"{home}/.local/share/containers/storage"
    )
    assert rootless.graph_root_for(str(home), "u", 1001, data_home="/data") == (
        "/data/containers/storage"
    )
    system.write_text('[storage]\nrootless_storage_path = "/srv/$USER/$UID/storage"\n')
    assert rootless.graph_root_for(str(home), "u", 1001) == "/srv/u/1001/storage"
    own = home / ".config" / "containers" / "storage.conf"
    own.parent.mkdir(parents=True)
    own.write_text('[storage]\ndriver = "vfs"\ngraphroot = "/big/disk/containers"\n')
    assert rootless.graph_root_for(str(home), "u", 1001) == "/big/disk/containers"
    own.write_text("not toml [")  # a broken file of the user's: the system's setting applies
    assert rootless.graph_root_for(str(home), "u", 1001) == "/srv/u/1001/storage"


def _user_home(tmp_path: Path, name: str, with_containers: bool) -> Path:
    home = tmp_path / "home" / name
    storage = home / ".local" / "share" / "containers" / "storage"
    storage.mkdir(parents=True)
    if with_containers:
        (storage / "vfs-containers").mkdir()
        (storage / "vfs-containers" / "containers.json").write_bytes(
            (FIXTURES / "podman-rootless-containers.json").read_bytes()
        )
    return home


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A host with two users: one running rootless podman, one who never did."""
    users = _user_home(tmp_path, "dtrootless", True)
    _user_home(tmp_path, "cloudsdk", False)
    passwd = tmp_path / "passwd"
    passwd.write_text(PASSWD.replace("/home/", f"{tmp_path}/home/"))
    run = tmp_path / "run-user"
    (run / "1001").mkdir(parents=True)
    monkeypatch.setattr(rootless, "PASSWD", str(passwd))
    monkeypatch.setattr(rootless, "RUNTIME_DIRS", str(run))
    monkeypatch.setattr(rootless, "SYSTEM_STORAGE_CONF", str(tmp_path / "none.conf"))
    return users


@pytest.mark.skipif(os.geteuid() != 0, reason="as a user, only one's own store is looked at")
def test_root_finds_each_users_store_that_holds_containers(host: Path, tmp_path: Path) -> None:
    (store,) = rootless.user_stores()
    assert (store.owner, store.uid, store.gid, store.home) == ("dtrootless", 1001, 1001, str(host))
    assert store.graph_root == f"{host}/.local/share/containers/storage"
    assert store.runtime_dir == f"{tmp_path}/run-user/1001"
    assert store.oci_state()[0] == ("runc", f"{tmp_path}/run-user/1001/runc", "state.json")
    env = store.environment()
    assert env["XDG_RUNTIME_DIR"] == store.runtime_dir and env["HOME"] == str(host)
    assert set(env) == {"PATH", "HOME", "USER", "LOGNAME", "XDG_RUNTIME_DIR", "LANG"}


def _state_for(store: rootless.Store, cid: str) -> None:
    """Put the captured runc state of the container under the store's runtime directory, with
    this test process standing in for its init."""
    state = json.loads((FIXTURES / "runc-state-rootless.json").read_text())
    me = os.getpid()
    state.update(init_process_pid=me, init_process_start=procfs.start_time(me), cgroup_paths={})
    directory = Path(store.runtime_dir) / "runc" / cid
    directory.mkdir(parents=True)
    (directory / "state.json").write_text(json.dumps(state))


def test_podman_lists_a_users_vfs_store_with_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _user_home(tmp_path, "dtrootless", True)
    store = rootless.Store(
        "dtrootless", 1001, 1001, str(home),
        f"{home}/.local/share/containers/storage", str(tmp_path / "run-user" / "1001"),
    )  # fmt: skip
    (record,) = json.loads((FIXTURES / "podman-rootless-containers.json").read_text())
    _state_for(store, record["id"])
    monkeypatch.setattr(rootless, "user_stores", lambda: [store])
    runtime = podman.PodmanRuntime()
    runtime.root = str(tmp_path / "no-root-storage")
    monkeypatch.setattr(runtime, "_podman_ps", lambda: [])  # root's podman: nothing
    (c,) = runtime.list()
    assert (c.id, c.name, c.owner, c.status, c.pid) == (
        record["id"], "rl-test1", "dtrootless", "running", os.getpid(),
    )  # fmt: skip
    assert c.image == "localhost/debugtool-test/busybox:latest"
    assert (c.oci_runtime, c.oci_root) == ("runc", f"{store.runtime_dir}/runc")
    assert c.bundle == f"{store.graph_root}/vfs-containers/{c.id}/userdata"
    assert c.rootfs.startswith("/home/dtrootless/.local/share/containers/storage/vfs/dir/")
    assert runtime.store_of(c) == store
    # Its log is the k8s-file in the user's storage.
    Path(c.bundle).mkdir(parents=True)
    (Path(c.bundle) / "ctr.log").write_bytes(
        b"2026-12-06T09:33:06.500000000+00:00 stdout F hello from a rootless container\n"
    )
    assert (
        runtime.logs(c) == b"2026-12-06T09:33:06.500000000+00:00 hello from a rootless container\n"
    )


def test_a_user_store_that_cannot_be_read_is_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _user_home(tmp_path, "dtrootless", True)
    graph = home / ".local" / "share" / "containers" / "storage"
    (graph / "vfs-containers" / "containers.json").write_text("{not json")
    store = rootless.Store("dtrootless", 1001, 1001, str(home), str(graph), str(tmp_path))
    monkeypatch.setattr(rootless, "user_stores", lambda: [store])
    runtime = podman.PodmanRuntime()
    runtime.root = str(tmp_path / "no-root-storage")
    monkeypatch.setattr(runtime, "_podman_ps", lambda: [])
    assert runtime.list(all=True) == []
    (warning,) = runtime.warnings
    assert warning.startswith("cannot read the podman storage of user dtrootless (")


def test_as_user_runs_podman_as_the_owner_with_its_environment_alone() -> None:
    store = rootless.Store("nobody", 65534, 65534, "/nonexistent", "/x", "/run/user/65534")
    args = podman.as_user(store)
    if os.geteuid() != 0:
        assert args == {}  # a user who is not root is the user already
        return
    assert (args["user"], args["group"], args["cwd"]) == (65534, 65534, "/")
    assert 65534 in args["extra_groups"]
    assert args["env"] == store.environment()
    assert podman.as_user(None) == {}


def test_owner_column_shows_root_for_roots_containers() -> None:
    rows = [
        container_view.ContainerRow(Container("a" * 64, "web", "docker")),
        container_view.ContainerRow(Container("b" * 64, "rl", "podman", owner="dtrootless")),
    ]
    columns = container_view.with_owner(container_view.COLUMNS)
    assert [c.header for c in columns][:4] == ["ID", "NAME", "RUNTIME", "OWNER"]
    assert [container_view.OWNER.text(r) for r in rows] == ["root", "dtrootless"]
    # A container's owner round-trips through JSON (bundles keep it).
    c = rows[1].container
    assert Container.from_json(c.to_json()).owner == "dtrootless"


def test_a_rootless_runtimes_own_binds_are_not_risks() -> None:
    from debugtool.collect.mounts import _rootless_state

    cid = "6456a67bc5b5"
    assert _rootless_state(f"/run/user/1001/containers/vfs-containers/{cid}/userdata/hosts")
    assert not _rootless_state("/run/user/1001/secrets/token")
    assert not _rootless_state("/run/user/x/containers/a/b")
    assert not _rootless_state("/run/user/1001/containers")


def test_a_rootless_runtimes_device_binds_are_not_the_hosts_dev() -> None:
    """runc without CAP_MKNOD binds /dev/null and friends from the host one by one (and masks
    /proc/keys with /dev/null): those are not the host's /dev; a bind of /dev itself is."""
    from debugtool.collect.mounts import risks
    from debugtool.snapshot import Mount

    null = Mount(1, 0, "/dev/null", "devtmpfs", "devtmpfs", "/null", "/dev/null")
    keys = Mount(2, 0, "/proc/keys", "devtmpfs", "devtmpfs", "/null", "/dev/null")
    whole = Mount(3, 0, "/host/dev", "devtmpfs", "devtmpfs", "/", "/dev")
    disk = Mount(4, 0, "/dev/sda", "devtmpfs", "devtmpfs", "/sda", "/dev/sda")
    mounts = [null, keys, whole, disk]
    assert [risks(m, mounts) for m in mounts] == [
        [], [], ["host /dev mounted"], ["host /dev mounted"],
    ]  # fmt: skip


def test_the_runtime_directory_libpod_recorded(tmp_path: Path) -> None:
    import gzip
    import sqlite3

    user = tmp_path / "user"
    (user / "libpod").mkdir(parents=True)
    (user / "libpod" / "bolt_state.db").write_bytes(
        gzip.decompress((FIXTURES / "libpod-rootless-bolt_state.db.gz").read_bytes())
    )
    assert rootless.recorded_runtime_dir(str(user)) == "/run/user/1001"
    # Root's database records /run/libpod: no user's runtime directory to learn.
    root = tmp_path / "root"
    (root / "libpod").mkdir(parents=True)
    (root / "libpod" / "bolt_state.db").write_bytes(
        gzip.decompress((FIXTURES / "libpod-bolt_state.db.gz").read_bytes())
    )
    assert rootless.recorded_runtime_dir(str(root)) == ""
    # podman 5's SQLite database (DBConfig as libpod/sqlite_state_internal.go creates it).
    five = tmp_path / "five"
    five.mkdir()
    conn = sqlite3.connect(five / "db.sql")
    conn.execute(
        "CREATE TABLE DBConfig(ID INTEGER PRIMARY KEY NOT NULL, SchemaVersion INTEGER NOT NULL,"
        " OS TEXT NOT NULL, StaticDir TEXT NOT NULL, TmpDir TEXT NOT NULL, GraphRoot TEXT NOT"
        " NULL, RunRoot TEXT NOT NULL, GraphDriver TEXT NOT NULL, VolumeDir TEXT NOT NULL)"
    )
    conn.execute(
        "INSERT INTO DBConfig VALUES (1, 1, 'linux', '/s', '/tmp/podman-run-1001/libpod/tmp',"
        " '/g', '/r', 'overlay', '/v')"
    )
    conn.commit()
    conn.close()
    assert rootless.recorded_runtime_dir(str(five)) == "/tmp/podman-run-1001"
    (five / "db.sql").write_text("not a database")
    assert rootless.recorded_runtime_dir(str(five)) == ""
    assert rootless.recorded_runtime_dir(str(tmp_path / "none")) == ""


def test_roots_podman_down_still_lists_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("root's podman is asked only by root")
    home = _user_home(tmp_path, "dtrootless", True)
    store = rootless.Store(
        "dtrootless", 1001, 1001, str(home),
        f"{home}/.local/share/containers/storage", str(tmp_path / "run"),
    )  # fmt: skip
    monkeypatch.setattr(rootless, "user_stores", lambda: [store])
    runtime = podman.PodmanRuntime()
    runtime.root = str(tmp_path / "no-root-storage")

    def down() -> list:
        raise podman.RuntimeUnavailable("podman", "podman ps did not finish within 2s")

    monkeypatch.setattr(runtime, "_podman_ps", down)
    (c,) = runtime.list(all=True)
    assert (c.name, c.owner, c.status) == ("rl-test1", "dtrootless", "created")
    assert runtime.warnings == [
        "podman ps did not finish within 2s; root's containers are not listed."
    ]


def test_a_store_whose_containers_were_all_removed_holds_none(tmp_path: Path) -> None:
    # containers/storage leaves "[]" behind: such a store is not listed, so ps opens none of
    # its files (libpod's database among them).
    storage = _user_home(tmp_path, "u", True) / ".local" / "share" / "containers" / "storage"
    assert rootless.has_containers(str(storage))
    (storage / "vfs-containers" / "containers.json").write_bytes(b"[]")
    assert not rootless.has_containers(str(storage))
    (storage / "vfs-containers" / "containers.json").unlink()
    assert not rootless.has_containers(str(storage))
