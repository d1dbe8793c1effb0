"""The joiner: the only code of debugtool's that enters a container (ns and toolbox modes).

debugtool sends it one typed message, a ``JoinSpec`` (as runc's parent sends ``nsexec.c`` its
bootstrap data), and it does exactly that, in a fixed order, with nothing else of debugtool's left
in it. It runs in a single-threaded child of debugtool, forked or spawned as ``python -I -S``:

1. Join the target's cgroups. A forked joiner does it first of all, while debugtool is still
   planning (the kernel's first cgroup move waits ~10 ms; see ``ns.EarlyJoiner``): a process
   outside the container's PID namespace is invisible to it, and the joiner never enters that
   namespace itself, so nothing of it is exposed by the move.
2. Before anything else of the container: clear its dumpable flag, wipe its command line and
   environment strings, close every descriptor but the spec's (``close_range``). Then enter
   each namespace (verified by inode through the host's /proc), optionally build the private
   toolbox root, resolve the user in the container's files.
3. Fork the *command*, which is born in the target's PID namespace. It closes every descriptor
   but 0, 1, 2 and the CLOEXEC error pipe *first*, then takes its terminal or process group,
   drops to the container's capabilities and user, sets NoNewPrivs, clears dumpable once more
   (a user switch may have reset it) and execs.

Why this order (runc's CVE-2016-9962, CVE-2019-5736, CVE-2024-21626): from the moment a process
is in the container's PID namespace, container root can find it in ``/proc``. The kernel lets
it read ``/proc/PID/{environ,exe,fd,cwd,root,mem}`` or ``ptrace`` it only if that process is
dumpable and its capabilities are a subset of the attacker's. This process is a copy of the
host's python holding the operator's environment and debugtool's descriptors, so it stays
non-dumpable until ``execve`` (which replaces it with the container's binary and environment),
and by the time it drops to the container's capabilities it holds no host descriptor at all.
``/proc/PID/cmdline`` needs no ptrace access, so the strings are wiped too. Its stdio are pipes
or a pty of the container's devpts, never the operator's terminal (debugtool relays them).

Failures are reported to debugtool over a CLOEXEC pipe as one JSON object: ``{"code",
"message"}`` for a setup failure, ``{"errno", "stage": "exec"}`` when execve failed.
"""

from __future__ import annotations

import _signal as signal  # signal's functions, without its enums (enum: ~4 ms to import)
import ctypes
import errno
import fcntl
import os
import struct
import sys

from debugtool import jsonc
from debugtool.collect.cgroups import join as join_cgroups
from debugtool.exec.spec import Capabilities, JoinSpec

__all__ = ["Capabilities", "JoinSpec", "join_and_run", "early_seal", "early_main", "helper_main"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
SYS_CAPSET = 126
SYS_CLOSE_RANGE = 436
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_LAST = 63
TIOCSCTTY = 0x540E
MAX_ID = 2**31 - 1  # as runc: uids and gids must be in range 0-2147483647
#: What the container sees as the name and command line of a process before its execve.
PROCESS_NAME = b"debugtool-exec"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_NAME = ctypes.create_string_buffer(PROCESS_NAME)


class SetupFailed(Exception):
    """A step before exec failed; ``code`` is the exit code debugtool reports (125 or 126)."""

    def __init__(self, message: str, code: int = 125) -> None:
        super().__init__(message)
        self.code = code


def _prctl(option: int, arg: int) -> int:
    return _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)


def _report(fd: int, payload: dict[str, Any]) -> None:
    try:
        os.write(fd, jsonc.dumps(payload).encode())
    except OSError:
        pass


# --- sealing the process before it meets the container ---------------------------------------


def seal(proc_fd: int) -> None:
    """Make this process opaque to the container: not dumpable, no host strings in /proc.

    Its own stat is read through the host's /proc at ``proc_fd``, as the joiner reads /proc
    everywhere, before anything of the container is joined.

    Non-dumpable: ``/proc/PID/{environ,exe,fd,cwd,root,mem,maps}`` and ``ptrace`` need
    CAP_SYS_PTRACE in the host's user namespace, which no container has. ``/proc/PID/cmdline``
    and ``environ`` are read from the process's own memory: the original strings (debugtool's
    command line, the operator's environment) are overwritten in place.
    """
    if _prctl(PR_SET_DUMPABLE, 0) != 0:
        raise SetupFailed("clearing the dumpable flag failed; nothing entered the container.")
    _libc.prctl(PR_SET_NAME, _NAME, 0, 0, 0)
    try:
        fd = os.open("self/stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
        with open(fd, "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
    except OSError:
        return
    # Fields 48-51 of stat(5) (here counted after the comm): arg_start, arg_end, env_start,
    # env_end. Zero both areas, then name the process in the first bytes of argv.
    try:
        arg_start, arg_end, env_start, env_end = (int(x) for x in fields[45:49])
    except ValueError:
        return
    for start, end in ((arg_start, arg_end), (env_start, env_end)):
        if 0 < start < end:
            ctypes.memset(start, 0, end - start)
    if arg_end - arg_start > len(PROCESS_NAME):
        ctypes.memmove(arg_start, PROCESS_NAME, len(PROCESS_NAME))


def close_fds_except(keep: list[int]) -> None:
    """Close every descriptor from 3 up except ``keep`` (close_range(2) when the kernel has it)."""
    low = 3
    for fd in sorted({fd for fd in keep if fd >= 3}) + [(1 << 31) - 1]:
        if fd > low:
            if _libc.syscall(SYS_CLOSE_RANGE, low, fd - 1, 0) != 0:
                os.closerange(low, min(fd, 1 << 20))
        low = fd + 1


# --- users -----------------------------------------------------------------------------------


def parse_passwd(text: str) -> list[list[str]]:
    """Return the well-formed lines of an /etc/passwd or /etc/group file, split on ':'."""
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            fields = line.split(":")
            if len(fields) >= 4:
                rows.append(fields)
    return rows


def resolve_user(
    spec: str | None, passwd: str, group: str, default: tuple[int, int]
) -> tuple[int, int, list[int], str | None]:
    """Return ``(uid, gid, supplementary gids, home)`` for a ``-u`` value in the container.

    ``spec`` is NAME, UID, NAME:GROUP or UID:GID, resolved in the container's own passwd and
    group files; None means ``default`` (the target process's ids). Raises ``SetupFailed``
    (exit 126, as docker exec) for a user or group that does not exist.
    """
    users = parse_passwd(passwd)
    groups = parse_passwd(group)
    if spec is None:
        uid, gid = default
        entry = next((u for u in users if u[2] == str(uid)), None)
        name = entry[0] if entry else None
        home = entry[5] if entry and len(entry) > 5 else None
    else:
        user_part, _, group_part = spec.partition(":")
        entry = next((u for u in users if u[0] == user_part), None)
        if entry is None and user_part.isdigit():
            entry = next((u for u in users if u[2] == user_part), None)
        if entry is None and not user_part.isdigit():
            raise SetupFailed(
                f"user '{user_part}' does not exist in the container's /etc/passwd.", 126
            )
        uid = int(entry[2]) if entry else int(user_part)
        gid = int(entry[3]) if entry else uid
        name = entry[0] if entry else None
        home = entry[5] if entry and len(entry) > 5 else None
        if group_part:
            g = next((g for g in groups if g[0] == group_part), None)
            if g is None and not group_part.isdigit():
                raise SetupFailed(
                    f"group '{group_part}' does not exist in the container's /etc/group.", 126
                )
            gid = int(g[2]) if g else int(group_part)
    extra = sorted(
        {gid} | {int(g[2]) for g in groups if name and name in g[3].split(",") and g[2].isdigit()}
    )
    for number in (uid, gid, *extra):
        if not 0 <= number <= MAX_ID:
            raise SetupFailed(f"user or group ID {number} is out of range (0-{MAX_ID}).", 126)
    return uid, gid, extra, home


def _read_container_file(path: str, proc_fd: int) -> str:
    """Read a small regular file of the container's (after setns(mnt)); "" for anything else.

    The container controls these paths: a FIFO or a device there must not be opened, so the
    path is opened O_PATH, checked, and reopened through the host's /proc at ``proc_fd`` (the
    container's /proc has no ``self`` for a process outside its PID namespace).
    """
    import stat

    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        real = os.open(f"self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY, dir_fd=proc_fd)
        with open(real, "rb") as f:
            return f.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


# --- capabilities ----------------------------------------------------------------------------


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (capset(2), version 3, two 32-bit words each)."""
    header = ctypes.create_string_buffer(struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0))
    lo = 0xFFFFFFFF
    data = ctypes.create_string_buffer(
        struct.pack(
            "6I",
            effective & lo,
            permitted & lo,
            inheritable & lo,
            effective >> 32,
            permitted >> 32,
            inheritable >> 32,
        )
    )
    if _libc.syscall(SYS_CAPSET, header, data) != 0:
        err = ctypes.get_errno()
        raise SetupFailed(f"capset failed: {os.strerror(err)}.")


def drop_privileges(caps: Capabilities, uid: int, gid: int, groups: list[int]) -> None:
    """Switch to ``uid``/``gid`` with the container's capability sets ``caps``.

    The bounding set is cut first (that needs CAP_SETPCAP, which capset may remove); the user
    switch keeps capabilities only long enough to set them: a non-root user ends with empty
    permitted and effective sets, as execve gives any non-root process.
    """
    for cap in range(CAP_LAST + 1):
        if not caps.bounding >> cap & 1 and _prctl(PR_CAPBSET_DROP, cap) != 0:
            if ctypes.get_errno() == errno.EINVAL:  # past the kernel's last capability
                break
            raise SetupFailed(f"dropping capability {cap} from the bounding set failed.")
    _prctl(PR_SET_KEEPCAPS, 1)
    _switch_user(uid, gid, groups)
    if uid == 0:
        capset(caps.effective, caps.permitted, caps.inheritable)
    else:
        capset(0, 0, caps.inheritable)
    _prctl(PR_SET_KEEPCAPS, 0)
    if uid == 0:
        for cap in range(CAP_LAST + 1):
            if caps.ambient >> cap & 1:
                _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0)


def _switch_user(uid: int, gid: int, groups: list[int]) -> None:
    try:
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        raise SetupFailed(f"switching to user {uid}:{gid} failed: {exc.strerror}.", 126) from None


# --- namespaces and cgroup -------------------------------------------------------------------


def _join(namespaces: tuple[tuple[str, int, int], ...], proc_fd: int, parent: int) -> None:
    """Enter each namespace (in the order given) and verify it by inode via the host's /proc.

    ``parent``: debugtool's PID, checked again after a user namespace changed this process's
    ids (which clears its parent-death signal).
    """
    from debugtool.nsjoin import FLAGS

    for nstype, fd, inode in namespaces:
        if _libc.setns(fd, FLAGS[nstype]) != 0:
            err = ctypes.get_errno()
            raise SetupFailed(f"entering the {nstype} namespace failed: {os.strerror(err)}.")
        if nstype == "user":
            _become_namespace_root(parent)
        # The PID and time namespaces of the caller apply to its children.
        link = {"pid": "pid_for_children", "time": "time_for_children"}.get(nstype, nstype)
        try:
            got = os.stat(f"thread-self/ns/{link}", dir_fd=proc_fd).st_ino
        except OSError:
            got = inode  # an older kernel without *_for_children: trust setns
        if got != inode:
            raise SetupFailed(
                f"entered a {nstype} namespace other than the container's "
                f"(inode {got}, expected {inode})."
            )


def _become_namespace_root(parent: int) -> None:
    """After setns(CLONE_NEWUSER): become the namespace's root (uid and gid 0 inside), as
    ``nsenter -U`` does.

    setns gives every capability in the joined user namespace, but the joiner is still the
    host's root, which a rootless container's namespace does not map: it would appear there as
    the overflow id, and the kernel refuses to create a file or mount owned by an unmapped id
    (EOVERFLOW: the toolbox's tmpfs). Its capabilities in the namespace are kept: the kernel
    drops them on a uid change only when the old uid was the namespace's root, which the host's
    root is not. Its capabilities in the host's namespace are already gone with the setns: the
    cgroups were joined before. A change of ids resets the dumpable flag to
    ``fs.suid_dumpable`` and clears the parent-death signal: the flag is cleared and the signal
    set again at once, and a debugtool (``parent``) that died meanwhile ends the joiner here.
    """
    try:
        os.setgroups([])
    except OSError:
        pass  # "deny" in this namespace's setgroups file: the groups stay as they are
    try:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError as exc:
        raise SetupFailed(
            f"becoming root in the container's user namespace failed: {exc.strerror}."
        ) from None
    finally:
        _prctl(PR_SET_DUMPABLE, 0)
        _prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    if os.getppid() != parent:
        os._exit(125)


# --- the two processes -----------------------------------------------------------------------


def _descendants(pid: int, proc_fd: int) -> list[int]:
    """Return every descendant of ``pid`` as host PIDs, read through the host's /proc at
    ``proc_fd`` (a joiner inside the container's mount namespace sees another /proc at /proc)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            dir_fd = os.open(f"{parent}/task", os.O_RDONLY | os.O_DIRECTORY, dir_fd=proc_fd)
        except OSError:
            continue
        try:
            tasks = os.listdir(dir_fd)
            for task in tasks:
                try:
                    fd = os.open(f"{task}/children", os.O_RDONLY, dir_fd=dir_fd)
                except OSError:
                    continue
                try:
                    kids = [int(k) for k in os.read(fd, 65536).split()]
                finally:
                    os.close(fd)
                found.extend(kids)
                todo.extend(kids)
        finally:
            os.close(dir_fd)
    return found


def kill_tree(pid: int, proc_fd: int) -> None:
    """SIGKILL ``pid`` and all its descendants (descendants listed first, so none escape)."""
    for victim in [*_descendants(pid, proc_fd), pid]:
        try:
            os.kill(victim, signal.SIGKILL)
        except OSError:
            pass


def join_and_run(spec: JoinSpec, prepared: bool = False, failed: Sequence[str] = ()) -> int:
    """The joiner: seal, enter the target's context, fork the command, wait; return its status.

    ``prepared``: ``early_main`` has already sealed this process and joined the cgroups
    (``failed``: those it could not join). Never returns to debugtool's code: the caller
    ``os._exit``s with the result.
    """
    command_pid = 0

    def on_parent_death(signum: int, frame: object) -> None:
        # debugtool died (or asked us to stop): the command must not outlive it.
        if command_pid:
            kill_tree(command_pid, spec.proc_fd)
        os._exit(128 + signal.SIGKILL)

    def forward(signum: int, frame: object) -> None:
        if command_pid:
            try:
                os.killpg(command_pid, signum)
            except OSError:
                try:
                    os.kill(command_pid, signum)
                except OSError:
                    pass

    try:
        if not prepared:
            seal(spec.proc_fd)
        close_fds_except(spec.descriptors())
        signal.signal(signal.SIGUSR1, on_parent_death)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, forward)
        _prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
        if os.getppid() != spec.parent:
            os._exit(125)
        if not prepared:
            # Out of debugtool's process group: a Ctrl-C at the operator's terminal reaches
            # debugtool alone, which forwards it once.
            os.setpgid(0, 0)
            failed = join_cgroups(spec.cgroup_procs)
        if failed:
            sys.stderr.write(
                f"debugtool: warning: could not join cgroup(s) {', '.join(failed)}; "
                "their limits do not apply.\n"
            )
            sys.stderr.flush()
        # From here on a module would be read from the container's filesystem and run in the
        # joiner: refuse every import rather than trust that nothing below needs one.
        sys.meta_path.insert(0, NoImports)
        _join(spec.namespaces, spec.proc_fd, spec.parent)
        joined_mnt = any(nstype == "mnt" for nstype, _, _ in spec.namespaces)
        cwd = spec.workdir
        if joined_mnt and not cwd and spec.cwd_fd is not None:
            try:
                os.fchdir(spec.cwd_fd)
                cwd = os.getcwd()
            except OSError:
                cwd = "/"
        if spec.tools_fd is not None:
            from debugtool.toolbox import enter_private_root

            enter_private_root(spec.tools_fd)
        if cwd:
            try:
                os.chdir(cwd)
            except OSError as exc:
                if spec.workdir:
                    raise SetupFailed(
                        f"cannot change to the working directory {cwd}: {exc.strerror}.", 126
                    ) from None
                os.chdir("/")
        else:
            os.chdir("/")  # never the host's directory
        # Inside the mount namespace the container's files are at /etc; otherwise debugtool
        # read them inside the container's root before forking.
        passwd, group = spec.user_files or (
            _read_container_file("/etc/passwd", spec.proc_fd),
            _read_container_file("/etc/group", spec.proc_fd),
        )
        uid, gid, groups, home = resolve_user(spec.user, passwd, group, spec.default_ids)
        env = dict(spec.env)
        if home and (spec.user is not None or "HOME" not in env):
            env["HOME"] = home
    except SetupFailed as exc:
        _report(spec.errw, {"code": exc.code, "message": str(exc)})
        return exc.code
    except Exception as exc:  # noqa: BLE001 - report, never a traceback in the container
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        _report(spec.errw, {"code": 125, "message": str(message)})
        return 125

    command_pid = os.fork()
    if command_pid == 0:
        try:
            _become_command(spec, env, uid, gid, groups)
        except SetupFailed as exc:
            _report(spec.errw, {"code": exc.code, "message": str(exc)})
            os._exit(exc.code)
        except OSError as exc:
            _report(spec.errw, {"errno": exc.errno, "stage": "exec"})
            os._exit(127 if exc.errno == errno.ENOENT else 126)
        except BaseException as exc:  # noqa: BLE001
            _report(spec.errw, {"code": 125, "message": f"{type(exc).__name__}: {exc}"})
            os._exit(125)
        os._exit(125)  # not reached: exec replaced this process
    # The joiner keeps nothing of the command's session: its stdio must close here so debugtool
    # sees EOF (or EIO on the pty) when the command's side ends.
    for fd in (0, 1, 2, spec.errw):
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        try:
            _, status = os.waitpid(command_pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            return 125
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


#: The most descriptors a joiner receives: five namespaces, /proc, cwd, tools, the error pipe
#: and three of stdio, with room to spare.
MAX_RECEIVED = 32


def early_seal(parent: int) -> None:
    """A forked joiner started before its spec exists (``EarlyJoiner``): seal it while its
    cgroup move waits in the kernel, and import what it will need from the host's files.

    It leaves at once if debugtool (``parent``) is gone, and with it from now on.
    """
    signal.signal(signal.SIGUSR1, lambda signum, frame: os._exit(125))
    _prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    if os.getppid() != parent:
        os._exit(125)
    proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        seal(proc_fd)
    finally:
        os.close(proc_fd)
    # Everything the joiner needs is imported now, from the host's files (see helper_main).
    import debugtool.nsjoin  # noqa: F401


def early_main(channel: int, failed: Sequence[str]) -> NoReturn:
    """The sealed early joiner (``early_seal``), now in the target's cgroups (``failed``: those
    it could not join): it receives its spec and descriptors on the unix socket ``channel``
    (``EarlyJoiner.hand_over``) and goes on as ``join_and_run``. End of file instead of a spec
    means the exec was called off: it leaves, having entered nothing.
    """
    code = 125
    try:
        close_fds_except([channel])
        os.setpgid(0, 0)
        received = _receive(channel)
        if received is None:
            os._exit(125)
        spec, stdio = received
        if spec.tools_fd is not None:
            import debugtool.toolbox  # noqa: F401
        for src, dst in zip(stdio, (0, 1, 2), strict=True):
            os.dup2(src, dst)
        for fd in set(stdio):
            os.close(fd)
        code = join_and_run(spec, prepared=True, failed=failed)
    except BaseException:  # noqa: BLE001 - nothing of debugtool's may run on in this process
        pass
    finally:
        os._exit(code)


def _receive(channel: int) -> tuple[JoinSpec, list[int]] | None:
    """Read the spec and its descriptors (``EarlyJoiner.hand_over``); None at end of file."""
    import _socket

    sock = _socket.socket(fileno=channel)
    try:
        head, ancillary, _, _ = sock.recvmsg(
            8, _socket.CMSG_SPACE(MAX_RECEIVED * 4), _socket.MSG_CMSG_CLOEXEC
        )
        if len(head) < 8:
            return None
        size, count = struct.unpack("=II", head)
        fds: list[int] = []
        for level, kind, data in ancillary:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds += struct.unpack(f"={len(data) // 4}i", data[: len(data) // 4 * 4])
        body = b""
        while len(body) < size:
            chunk = sock.recv(size - len(body))
            if not chunk:
                return None
            body += chunk
    finally:
        sock.close()
    message = jsonc.loads(body)
    if len(fds) != count or len(message["fds"]) != count:
        raise SetupFailed("the joiner did not receive its descriptors.")
    moved = dict(zip(message["fds"], fds, strict=True))
    spec = JoinSpec.from_json(message["spec"].encode()).with_descriptors(moved)
    return spec, [moved[fd] for fd in message["stdio"]]


def helper_main(spec_fd: int) -> None:
    """Entry of a spawned joiner (``python -I -S``): read the spec from ``spec_fd``, join, exit."""
    chunks = []
    while True:
        chunk = os.read(spec_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(spec_fd)
    spec = JoinSpec.from_json(b"".join(chunks))
    # The error pipe had to be inheritable to get here; the command must not inherit it.
    os.set_inheritable(spec.errw, False)
    # Everything the joiner needs is imported now: after setns(mnt) the host's files (and this
    # package) are out of reach.
    import debugtool.nsjoin  # noqa: F401

    if spec.tools_fd is not None:
        import debugtool.toolbox  # noqa: F401
    code = 125
    try:
        code = join_and_run(spec)
    finally:
        os._exit(code)


def _become_command(
    spec: JoinSpec, env: dict[str, str], uid: int, gid: int, groups: list[int]
) -> None:
    """The command's process: descriptors, session, privileges, exec — in that order."""
    # First: nothing of debugtool's is left open (CVE-2024-21626). Only 0, 1, 2 (pipes or the
    # container's pty) and the CLOEXEC error pipe, which closes itself on a successful exec.
    close_fds_except([spec.errw])
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    for sig in (
        signal.SIGUSR1,
        signal.SIGTERM,
        signal.SIGHUP,
        signal.SIGINT,
        signal.SIGQUIT,
        signal.SIGPIPE,
        signal.SIGTTOU,
        signal.SIGTTIN,
        signal.SIGTSTP,
        signal.SIGCHLD,
    ):
        signal.signal(sig, signal.SIG_DFL)
    if spec.tty:
        os.setsid()
        fcntl.ioctl(0, TIOCSCTTY, 0)
    else:
        os.setpgid(0, 0)
    if spec.capabilities is not None:
        drop_privileges(spec.capabilities, uid, gid, groups)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    else:
        _switch_user(uid, gid, groups)
    # A change of user sets dumpable to fs.suid_dumpable, which may be 2: clear it again. The
    # execve below makes the process dumpable as the container's own binary.
    _prctl(PR_SET_DUMPABLE, 0)
    argv = list(spec.argv)
    if "/" in argv[0]:
        os.execve(argv[0], argv, env)
    execvpe(argv[0], argv, env)


def execvpe(file: str, argv: list[str], env: dict[str, str]) -> None:
    """Execute ``file`` found on the command's ``PATH``, as ``os.execvpe`` does.

    ``os.execvpe`` imports ``warnings`` (in ``os.get_exec_path``), and here an import would be
    read from the container's filesystem. The first error that is not "no such file" is the
    one raised, as the C library's execvp reports it.
    """
    first: OSError | None = None
    last: OSError | None = None
    for directory in (env.get("PATH") or "/bin:/usr/bin").split(":"):
        try:
            os.execve(os.path.join(directory or ".", file), argv, env)
        except (FileNotFoundError, NotADirectoryError) as exc:
            last = exc
        except OSError as exc:
            last = exc
            first = first or exc
    raise first or last or FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), file)


class NoImports:
    """A module finder that refuses every import (first on ``sys.meta_path`` once the joiner
    starts to enter the container): after setns(mnt) the file of a module not yet imported
    would be the container's, run with the joiner's descriptors and privileges."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        raise ImportError(f"debugtool's joiner imports nothing inside a container ({name})")
