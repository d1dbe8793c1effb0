"""Rootless podman's stores: which users run podman, and where each keeps its containers.

A user's podman keeps what root's keeps, in the user's own directories: containers/storage under
``~/.local/share/containers/storage`` (or ``graphroot`` of ``~/.config/containers/storage.conf``,
or ``rootless_storage_path`` of ``/etc/containers/storage.conf``), libpod's database beside it,
and the OCI runtime's state under the user's runtime directory (``XDG_RUNTIME_DIR``, normally
``/run/user/UID``: ``runc/ID/state.json``, ``crun/ID/status``). Root reads them all as files,
without starting anything and without ever running podman as root against a user's storage.

The runtime directory is ``/run/user/UID`` unless libpod's database says the user's podman
last ran with another (``recorded_runtime_dir``). Users are found two ways, both cheap: the runtime directories under ``/run/user`` (a user who
is logged in or lingers) and the home directories of ``/etc/passwd`` (a user whose containers
are all stopped). Run by a user who is not root, debugtool looks at that user's store alone,
with that user's ``XDG_RUNTIME_DIR``, ``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME``.
"""

from __future__ import annotations

import os

from debugtool.record import record, replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

PASSWD = "/etc/passwd"
RUNTIME_DIRS = "/run/user"
SYSTEM_STORAGE_CONF = "/etc/containers/storage.conf"
#: The storage drivers whose ``DRIVER-containers/containers.json`` podman may keep.
DRIVERS = ("overlay", "vfs", "btrfs", "zfs")


@record(frozen=True)
class Store:
    """One user's podman: whose it is, where its storage and its OCI runtime's state are."""

    owner: str  # the user's name
    uid: int
    gid: int
    home: str
    graph_root: str  # containers/storage's graph root
    runtime_dir: str  # XDG_RUNTIME_DIR: runc and crun keep their state under it

    def oci_state(self) -> tuple[tuple[str, str, str], ...]:
        """Return the state roots of the OCI runtimes podman drives for this user, as
        ``podman.OCI_STATE`` gives root's: ``(runtime, root, file kept per container)``."""
        return (
            ("runc", f"{self.runtime_dir}/runc", "state.json"),
            ("crun", f"{self.runtime_dir}/crun", "status"),
        )

    def environment(self) -> dict[str, str]:
        """Return the whole environment podman runs with as this user (nothing of root's)."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": self.home,
            "USER": self.owner,
            "LOGNAME": self.owner,
            "XDG_RUNTIME_DIR": self.runtime_dir,
            "LANG": "C.UTF-8",
        }


def parse_passwd(text: str) -> list[tuple[str, int, int, str]]:
    """Return ``(name, uid, gid, home)`` of each well-formed line of an /etc/passwd text."""
    users = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 6 or line.startswith(("#", "+", "-")):
            continue
        name, _, uid, gid, _, home = fields[:6]
        if uid.isdecimal() and gid.isdecimal() and name and home.startswith("/"):
            users.append((name, int(uid), int(gid), home))
    return users


def has_containers(graph_root: str) -> bool:
    """Return whether a containers/storage graph root holds containers (any driver).

    A store whose containers were all removed keeps a ``containers.json`` of ``[]``: one
    ``stat`` tells (no container record is that short), and such a store costs ``ps`` nothing
    more (no libpod database opened for it)."""
    for driver in DRIVERS:
        try:
            size = os.stat(f"{graph_root}/{driver}-containers/containers.json").st_size
        except OSError:
            continue
        if size > len(b"[]\n"):
            return True
    return False


def graph_root_for(home: str, name: str, uid: int, config_home: str | None = None,
                   data_home: str | None = None) -> str:  # fmt: skip
    """Return the graph root of a user's rootless storage.

    The user's own ``storage.conf`` (``graphroot``) wins, then the system's
    ``rootless_storage_path`` (``$HOME``, ``$USER`` and ``$UID`` expanded), then the default
    ``$XDG_DATA_HOME/containers/storage`` (``~/.local/share`` without it). tomllib is imported
    only when one of those files exists.
    """
    own = f"{config_home or home + '/.config'}/containers/storage.conf"
    value = _storage_option(own, "graphroot")
    if not value:
        value = _storage_option(SYSTEM_STORAGE_CONF, "rootless_storage_path")
        for key, sub in (("$HOME", home), ("$USER", name), ("$UID", str(uid))):
            value = value.replace(key, sub)
    if value:
        return value.replace("~", home, 1) if value.startswith("~") else value
    return f"{data_home or home + '/.local/share'}/containers/storage"


def _storage_option(path: str, key: str) -> str:
    """Return ``[storage] KEY`` of a storage.conf ("" when missing or unreadable)."""
    try:
        with open(path, "rb") as f:
            import tomllib

            storage = tomllib.load(f).get("storage", {})
    except (OSError, ValueError):
        return ""
    value = storage.get(key) if isinstance(storage, dict) else None
    return value if isinstance(value, str) else ""


def user_stores() -> list[Store]:
    """Return the rootless podman stores this process may read that hold containers.

    As root: every user's, found under ``/run/user`` and from the homes of ``/etc/passwd``.
    As anyone else: that user's own (root's own store is ``podman``'s rootful one).
    """
    uid = os.geteuid()
    if uid != 0:
        store = own_store(uid)
        return [store] if store is not None and has_containers(store.graph_root) else []
    found = []
    for store in _every_user():
        if has_containers(store.graph_root):
            recorded = recorded_runtime_dir(store.graph_root)
            if recorded and recorded != store.runtime_dir:
                store = replace(store, runtime_dir=recorded)
            found.append(store)
    return found


def recorded_runtime_dir(graph_root: str) -> str:
    """Return the runtime directory the user's podman last ran with, as libpod's database
    records it ("" when it cannot tell).

    libpod keeps its configuration beside the containers (bolt's ``runtime-config`` bucket,
    SQLite's ``DBConfig`` table); its ``tmp-dir`` is ``XDG_RUNTIME_DIR/libpod/tmp`` unless
    containers.conf moved it. This is how root learns a ``XDG_RUNTIME_DIR`` other than
    ``/run/user/UID`` (a user without a login session gets ``/tmp/podman-run-UID``).
    """
    tmp = ""
    bolt = f"{graph_root}/libpod/bolt_state.db"
    try:
        if os.path.exists(bolt):
            from debugtool.runtimes.boltdb import BoltFile

            with BoltFile(bolt) as db:
                config = db.top().bucket(b"runtime-config")
                value = config.get(b"tmp-dir") if config is not None else None
                tmp = value.decode(errors="replace") if value else ""
        elif os.path.exists(f"{graph_root}/db.sql"):
            tmp = _sqlite_tmp_dir(f"{graph_root}/db.sql")
    except (OSError, ValueError):
        return ""
    suffix = "/libpod/tmp"
    return tmp[: -len(suffix)] if tmp.endswith(suffix) and len(tmp) > len(suffix) else ""


def _sqlite_tmp_dir(path: str) -> str:
    import pathlib
    import sqlite3

    try:
        conn = sqlite3.connect(f"{pathlib.Path(path).as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT TmpDir FROM DBConfig").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ValueError(str(exc)) from None
    return str(row[0]) if row and row[0] else ""


def own_store(uid: int) -> Store | None:
    """Return the store of the user this process runs as, from its environment."""
    import pwd

    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return None
    home = os.environ.get("HOME") or entry.pw_dir
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"{RUNTIME_DIRS}/{uid}"
    root = graph_root_for(
        home,
        entry.pw_name,
        uid,
        os.environ.get("XDG_CONFIG_HOME"),
        os.environ.get("XDG_DATA_HOME"),
    )
    return Store(entry.pw_name, uid, entry.pw_gid, home, root, runtime_dir)


def _every_user() -> Iterator[Store]:
    """Yield a store for every user but root that has a home or a runtime directory."""
    try:
        with open(PASSWD, encoding="utf-8", errors="replace") as f:
            users = {uid: (name, gid, home) for name, uid, gid, home in parse_passwd(f.read())}
    except OSError:
        users = {}
    try:
        running = {int(n) for n in os.listdir(RUNTIME_DIRS) if n.isdecimal()}
    except OSError:
        running = set()
    for uid in sorted(running - set(users)):  # a user of LDAP or the like, logged in now
        import pwd

        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            continue
        users[uid] = (entry.pw_name, entry.pw_gid, entry.pw_dir)
    for uid, (name, gid, home) in sorted(users.items()):
        if uid == 0 or home in ("/", "/nonexistent"):
            continue
        yield Store(name, uid, gid, home, graph_root_for(home, name, uid), f"{RUNTIME_DIRS}/{uid}")


def groups_of(store: Store) -> list[int]:
    """Return the user's supplementary groups, as a login would give them."""
    try:
        return os.getgrouplist(store.owner, store.gid)
    except OSError:
        return [store.gid]
