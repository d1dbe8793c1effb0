"""rootfs: reads inside a container root never leave it, through openat2 and the fallback walk."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from debugtool import rootfs
from debugtool.errors import ContainerGone


@pytest.fixture(params=["openat2", "walk"])
def mode(request, monkeypatch):
    """Run each test with the kernel's RESOLVE_IN_ROOT and with the component-by-component walk."""
    monkeypatch.setattr(rootfs, "_openat2_works", None if request.param == "openat2" else False)
    return request.param


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A container root next to a 'host' secret that every escape attempt aims at."""
    (tmp_path / "secret").write_text("HOST SECRET\n")
    root = tmp_path / "root"
    for d in ("etc", "bin", "data/sub/deeper", "home/app"):
        (root / d).mkdir(parents=True)
    (root / "etc" / "hostname").write_text("container\n")
    (root / "etc" / "shadow").write_text("root:container-shadow:0:0\n")
    (root / "secret").write_text("container secret\n")
    (root / "bin" / "busybox").write_bytes(b"\x7fELF")
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "etc" / "passwd").symlink_to("/../../etc/shadow")
    (root / "etc" / "up").symlink_to("../../../../../secret")
    (root / "etc" / "abs").symlink_to(str(tmp_path / "secret"))
    (root / "etc" / "loop1").symlink_to("loop2")
    (root / "etc" / "loop2").symlink_to("loop1")
    (root / "etc" / "dirlink").symlink_to("/data/sub")
    (root / "etc" / "magic").symlink_to("/proc/self/root/etc/hostname")
    (root / "data" / "sub" / "deeper" / "f").write_text("deep\n")
    (root / "data" / "sub" / "a file").write_text("spaced\n")
    return root


def read(root: Path, path: str) -> bytes:
    return rootfs.read_file(str(root), path)


def test_plain_reads(tree, mode):
    assert read(tree, "/etc/hostname") == b"container\n"
    assert read(tree, "etc/hostname") == b"container\n"
    assert read(tree, "/bin/sh") == b"\x7fELF"
    assert read(tree, "/etc/dirlink/deeper/f") == b"deep\n"
    assert read(tree, "/data/sub/a file") == b"spaced\n"


def test_absolute_symlink_to_shadow_stays_in_root(tree, mode):
    # The host's open() would follow /../../etc/shadow to the host's /etc/shadow.
    assert read(tree, "/etc/passwd") == b"root:container-shadow:0:0\n"
    (tree / "etc" / "shadow").unlink()
    with pytest.raises(rootfs.RootfsError) as err:
        read(tree, "/etc/passwd")
    assert err.value.errno == errno.ENOENT
    assert "no such file" in str(err.value)


def test_dotdot_and_links_never_climb_out(tree, mode):
    assert read(tree, "/etc/up") == b"container secret\n"
    assert read(tree, "/../../../secret") == b"container secret\n"
    assert read(tree, "/data/../../../../secret") == b"container secret\n"
    # An absolute link to the host's path of the secret is looked up inside the root.
    with pytest.raises(rootfs.RootfsError):
        read(tree, "/etc/abs")


def test_magic_link_path_resolves_inside_root(tree, mode):
    # /proc/self/root inside the root is just a missing path, never the host's root.
    with pytest.raises(rootfs.RootfsError) as err:
        read(tree, "/etc/magic")
    assert err.value.errno in (errno.ENOENT, errno.EXDEV)


def test_symlink_loop(tree, mode):
    with pytest.raises(rootfs.RootfsError) as err:
        read(tree, "/etc/loop1")
    assert err.value.errno == errno.ELOOP
    assert "symbolic links" in str(err.value)


def test_not_a_directory_and_directory_messages(tree, mode):
    with pytest.raises(rootfs.RootfsError) as err:
        read(tree, "/etc/hostname/x")
    assert err.value.errno == errno.ENOTDIR
    assert "not a directory" in str(err.value)
    with pytest.raises(rootfs.RootfsError) as err:
        read(tree, "/etc")
    assert "is a directory" in str(err.value)
    with pytest.raises(rootfs.RootfsError) as err:
        rootfs.listdir(str(tree), "/etc/hostname")
    assert "not a directory" in str(err.value)


@pytest.fixture
def opens(monkeypatch):
    """Record every descriptor debugtool opens without O_PATH, with the type of file it names.

    Both ways rootfs opens are watched: ``os.open`` (the fallback walk, the reopen through
    /proc/self/fd) and the openat2 syscall. A device or FIFO in the list was *opened*.
    """
    seen: list[tuple[str, int]] = []  # (what was opened, st_mode)
    real_open, real_openat2 = os.open, rootfs._openat2

    def note(what: str, flags: int, fd: int) -> int:
        if not flags & os.O_PATH:
            seen.append((what, os.fstat(fd).st_mode))
        return fd

    def spy_open(path, flags, *args, **kwargs):
        return note(str(path), flags, real_open(path, flags, *args, **kwargs))

    def spy_openat2(dirfd, path, flags):
        return note(os.fsdecode(path), flags, real_openat2(dirfd, path, flags))

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(rootfs, "_openat2", spy_openat2)

    def special() -> list[tuple[str, int]]:
        return [(w, m) for w, m in seen if not (stat.S_ISREG(m) or stat.S_ISDIR(m))]

    return special


@pytest.fixture
def hostile(tree: Path) -> Path:
    """Plant what a container's root (CAP_MKNOD) can put where debugtool expects files."""
    os.mkfifo(tree / "etc" / "resolv.conf")
    os.mknod(tree / "etc" / "kmsg", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    os.mknod(tree / "etc" / "disk", 0o600 | stat.S_IFBLK, os.makedev(7, 0))  # /dev/loop0's
    (tree / "etc" / "hosts").symlink_to("/etc/resolv.conf")  # a link to the FIFO
    (tree / "etc" / "shadow").unlink()
    os.mknod(tree / "etc" / "shadow", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # passwd -> shadow
    import socket

    sock = socket.socket(socket.AF_UNIX)
    cwd = os.getcwd()
    os.chdir(tree / "etc")  # a short relative name: socket paths hold at most 107 bytes
    try:
        sock.bind("sock")
    finally:
        os.chdir(cwd)
        sock.close()
    return tree


HOSTILE = {
    "/etc/resolv.conf": "a FIFO",
    "/etc/kmsg": "a character device (1:3)",
    "/etc/disk": "a block device (7:0)",
    "/etc/hosts": "a FIFO",
    "/etc/passwd": "a character device (1:3)",
    "/etc/sock": "a socket",
}


@pytest.mark.parametrize("path", sorted(HOSTILE))
def test_special_files_are_refused_without_being_opened(hostile, mode, opens, path):
    with pytest.raises(rootfs.NotRegularFile) as err:
        read(hostile, path)
    assert str(err.value) == (
        f"{path}: is {HOSTILE[path]}, not a regular file, so debugtool does not open it."
    )
    assert err.value.exit_code == 125 and err.value.hint
    with pytest.raises(rootfs.NotRegularFile):
        os.close(rootfs.open_in_root(str(hostile), path, os.O_RDONLY | os.O_NONBLOCK))
    with pytest.raises(rootfs.RootfsError):
        os.close(rootfs.open_in_root(str(hostile), path, os.O_RDONLY | os.O_DIRECTORY))
    assert opens() == []


def test_users_and_listings_open_no_special_file(hostile, mode, opens):
    assert rootfs.users(str(hostile)) == {}  # passwd -> shadow, a device: no names, no open
    entries = dict(rootfs.listdir(str(hostile), "/etc"))
    kmsg = entries["kmsg"]
    assert kmsg is not None and stat.S_ISCHR(kmsg.st_mode)
    walked = dict(rootfs.walk(str(hostile), "/"))
    assert stat.S_ISFIFO(walked["/etc/resolv.conf"].st_mode)
    assert stat.S_ISSOCK(walked["/etc/sock"].st_mode)
    assert stat.S_ISCHR(rootfs.stat(str(hostile), "/etc/passwd").st_mode)
    assert opens() == []


def test_o_path_still_names_a_device(hostile, mode, opens):
    # The one deliberate exception (exec opens the container's /dev/pts/ptmx after checking
    # it is 5:2) gets an O_PATH fd of any type and decides itself.
    fd = rootfs.open_in_root(str(hostile), "/etc/kmsg", os.O_PATH)
    try:
        assert os.major(os.fstat(fd).st_rdev) == 1
    finally:
        os.close(fd)
    assert opens() == []


def test_walk_does_not_enter_a_directory_swapped_for_a_device(hostile, mode, opens):
    # A directory listed, then replaced by a device before it is entered, is skipped.
    real_entries = rootfs._entries

    def swap(dirfd):
        entries = real_entries(dirfd)
        if any(name == "deeper" for name, _ in entries):
            target = hostile / "data" / "sub" / "deeper"
            (target / "f").unlink()
            target.rmdir()
            os.mknod(target, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        return entries

    rootfs_entries = pytest.MonkeyPatch()
    rootfs_entries.setattr(rootfs, "_entries", swap)
    try:
        walked = dict(rootfs.walk(str(hostile), "/data"))
    finally:
        rootfs_entries.undo()
    assert "/data/sub/deeper" in walked and "/data/sub/deeper/f" not in walked
    assert opens() == []


def test_write_flags_are_refused(tree):
    with pytest.raises(rootfs.RootfsError) as err:
        rootfs.open_in_root(str(tree), "/etc/new", os.O_WRONLY | os.O_CREAT)
    assert "read-only" in str(err.value)
    assert not (tree / "etc" / "new").exists()


def test_limit(tree, mode):
    assert rootfs.read_file(str(tree), "/etc/hostname", limit=4) == b"cont"


def test_stat_lstat_readlink(tree, mode):
    r = str(tree)
    assert stat.S_ISLNK(rootfs.lstat(r, "/bin/sh").st_mode)
    assert stat.S_ISREG(rootfs.stat(r, "/bin/sh").st_mode)
    assert rootfs.readlink(r, "/etc/passwd") == "/../../etc/shadow"
    assert stat.S_ISDIR(rootfs.stat(r, "/").st_mode)
    assert rootfs.stat(r, "/..").st_ino == os.stat(tree).st_ino
    assert rootfs.lstat(r, "/etc/dirlink/deeper/f").st_size == 5
    with pytest.raises(rootfs.RootfsError) as err:
        rootfs.readlink(r, "/etc/hostname")
    assert "not a symbolic link" in str(err.value)


def test_listdir(tree, mode):
    entries = rootfs.listdir(str(tree), "/etc")
    names = [n for n, _ in entries]
    assert names == sorted(names)
    assert "passwd" in names
    passwd = dict(entries)["passwd"]
    assert passwd is not None and stat.S_ISLNK(passwd.st_mode)  # lstat, not followed
    assert [n for n, _ in rootfs.listdir(str(tree), "/etc/dirlink")] == ["a file", "deeper"]


def test_walk_reports_links_without_following(tree, mode):
    seen = dict(rootfs.walk(str(tree), "/"))
    assert "/etc/passwd" in seen and stat.S_ISLNK(seen["/etc/passwd"].st_mode)
    assert "/data/sub/deeper/f" in seen
    assert not any(p.startswith("/etc/dirlink/") for p in seen)
    shallow = dict(rootfs.walk(str(tree), "/data", max_depth=1))
    assert "/data/sub" in shallow and "/data/sub/deeper" not in shallow


def test_missing_root(tmp_path):
    with pytest.raises(rootfs.RootfsError):
        rootfs.read_file(str(tmp_path / "nope"), "/etc/passwd")
    with pytest.raises(ContainerGone):
        rootfs.read_file(f"/proc/{2**22 + 4321}/root", "/etc/passwd")


def test_users_from_passwd(tree, mode):
    (tree / "etc" / "passwd").unlink()
    (tree / "etc" / "passwd").write_text(
        "# comment\nroot:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
        "dup:x:1000:1000::/:/bin/sh\nbroken\nbad:x:notanumber:0::/:/bin/sh\n"
    )
    assert rootfs.users(str(tree)) == {0: "root", 1000: "app"}


def test_users_never_from_the_host(tree, mode):
    # passwd -> /../../etc/shadow: the container's shadow, not the host's /etc/passwd or shadow.
    names = rootfs.users(str(tree))
    assert names == {0: "root"}
    (tree / "etc" / "shadow").unlink()
    assert rootfs.users(str(tree)) == {}
