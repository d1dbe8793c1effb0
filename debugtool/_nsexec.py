"""The forked side of ns and toolbox exec: join namespaces and cgroup, drop privileges, exec.

``join_and_run`` runs in a single-threaded child of debugtool (the *joiner*). It enters the
target's namespaces (each verified by inode), its cgroup, optionally the private toolbox root,
then forks the command's process (the *command*), which is born in the target's PID namespace,
drops to the container's capabilities and user, closes every inherited fd and execs. The joiner
waits and exits with the command's status; if debugtool dies, the joiner's parent-death signal
makes it kill the command's process tree.

Failures are reported to debugtool over a CLOEXEC pipe as one JSON object: ``{"code", "message"}``
for a setup failure, ``{"errno", "stage": "exec"}`` when execve failed.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import signal
import struct
import sys
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
SYS_CAPSET = 126
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_LAST = 63
TIOCSCTTY = 0x540E

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class SetupFailed(Exception):
    """A step before exec failed; ``code`` is the exit code debugtool reports (125 or 126)."""

    def __init__(self, message: str, code: int = 125) -> None:
        super().__init__(message)
        self.code = code


def _prctl(option: int, arg: int) -> int:
    return _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)


def _report(fd: int, payload: dict[str, Any]) -> None:
    try:
        os.write(fd, json.dumps(payload).encode())
    except OSError:
        pass


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
    return uid, gid, extra, home


def _read_optional(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


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


def drop_privileges(caps: dict[str, int], uid: int, gid: int, groups: list[int]) -> None:
    """Switch to ``uid``/``gid`` with the container's capability sets ``caps``.

    The bounding set is cut first (that needs CAP_SETPCAP, which capset may remove); the user
    switch keeps capabilities only long enough to set them: a non-root user ends with empty
    permitted and effective sets, as execve gives any non-root process.
    """
    for cap in range(CAP_LAST + 1):
        if not caps["bnd"] >> cap & 1 and _prctl(PR_CAPBSET_DROP, cap) != 0:
            if ctypes.get_errno() == errno.EINVAL:  # past the kernel's last capability
                break
            raise SetupFailed(f"dropping capability {cap} from the bounding set failed.")
    _prctl(PR_SET_KEEPCAPS, 1)
    _switch_user(uid, gid, groups)
    if uid == 0:
        capset(caps["eff"], caps["prm"], caps["inh"])
    else:
        capset(0, 0, caps["inh"])
    _prctl(PR_SET_KEEPCAPS, 0)
    if uid == 0:
        for cap in range(CAP_LAST + 1):
            if caps["amb"] >> cap & 1:
                _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0)


def _switch_user(uid: int, gid: int, groups: list[int]) -> None:
    try:
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        raise SetupFailed(f"switching to user {uid}:{gid} failed: {exc.strerror}.", 126) from None


# --- namespaces and cgroup -------------------------------------------------------------------


def _join(nsfds: dict[str, int], inodes: dict[str, int], proc_fd: int) -> None:
    """Enter each namespace (in the order given) and verify it by inode via the host's /proc."""
    from debugtool.nsjoin import FLAGS

    for nstype, fd in nsfds.items():
        if _libc.setns(fd, FLAGS[nstype]) != 0:
            err = ctypes.get_errno()
            raise SetupFailed(f"entering the {nstype} namespace failed: {os.strerror(err)}.")
        # The PID and time namespaces of the caller apply to its children.
        link = {"pid": "pid_for_children", "time": "time_for_children"}.get(nstype, nstype)
        try:
            got = os.stat(f"thread-self/ns/{link}", dir_fd=proc_fd).st_ino
        except OSError:
            got = inodes[nstype]  # an older kernel without *_for_children: trust setns
        if got != inodes[nstype]:
            raise SetupFailed(
                f"entered a {nstype} namespace other than the container's "
                f"(inode {got}, expected {inodes[nstype]})."
            )


def _join_cgroup(procs_files: list[str]) -> list[str]:
    """Move this process into each cgroup (writing to cgroup.procs); return the ones that failed."""
    failed = []
    for path in procs_files:
        try:
            with open(path, "w") as f:
                f.write("0")
        except OSError:
            failed.append(path)
    return failed


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


def join_and_run(spec: dict[str, Any]) -> int:
    """The joiner: enter the target's context, fork the command, wait; return its exit status.

    Never returns to debugtool's code: the caller ``os._exit``s with the result.
    """
    errw: int = spec["errw"]
    parent = spec["parent"]
    command_pid = 0

    def on_parent_death(signum: int, frame: object) -> None:
        # debugtool died (or asked us to stop): the command must not outlive it.
        if command_pid:
            kill_tree(command_pid, spec["proc_fd"])
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
        signal.signal(signal.SIGUSR1, on_parent_death)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, forward)
        _prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
        if os.getppid() != parent:
            os._exit(125)
        failed = _join_cgroup(spec["cgroup_procs"])
        if failed:
            sys.stderr.write(
                f"debugtool: warning: could not join cgroup(s) {', '.join(failed)}; "
                "their limits do not apply.\n"
            )
        _join(spec["nsfds"], spec["inodes"], spec["proc_fd"])
        joined_mnt = "mnt" in spec["nsfds"]
        cwd = spec["workdir"]
        if joined_mnt and not cwd:
            try:
                os.fchdir(spec["cwd_fd"])
                cwd = os.getcwd()
            except OSError:
                cwd = "/"
        if spec["tools_fd"] is not None:
            from debugtool.toolbox import enter_private_root

            enter_private_root(spec["tools_fd"])
        if cwd:
            try:
                os.chdir(cwd)
            except OSError as exc:
                if spec["workdir"]:
                    raise SetupFailed(
                        f"cannot change to the working directory {cwd}: {exc.strerror}.", 126
                    ) from None
                os.chdir("/")
        # Inside the mount namespace the container's files are at /etc; otherwise debugtool
        # read them inside the container's root before forking.
        passwd, group = spec["user_files"] or (
            _read_optional("/etc/passwd"),
            _read_optional("/etc/group"),
        )
        uid, gid, groups, home = resolve_user(
            spec["user"],
            passwd,
            group,
            tuple(spec["default_ids"]),  # type: ignore[arg-type]
        )
        env = dict(spec["env"])
        if home and (spec["user"] is not None or "HOME" not in env):
            env["HOME"] = home
    except SetupFailed as exc:
        _report(errw, {"code": exc.code, "message": str(exc)})
        return exc.code
    except Exception as exc:  # noqa: BLE001 - report, never a traceback in the container
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        _report(errw, {"code": 125, "message": str(message)})
        return 125

    command_pid = os.fork()
    if command_pid == 0:
        try:
            _become_command(spec, env, uid, gid, groups)
        except SetupFailed as exc:
            _report(errw, {"code": exc.code, "message": str(exc)})
            os._exit(exc.code)
        except OSError as exc:
            _report(errw, {"errno": exc.errno, "stage": "exec"})
            os._exit(127 if exc.errno == errno.ENOENT else 126)
        except BaseException as exc:  # noqa: BLE001
            _report(errw, {"code": 125, "message": f"{type(exc).__name__}: {exc}"})
            os._exit(125)
        os._exit(125)  # not reached: exec replaced this process
    # The joiner keeps nothing the command's session needs: the pty slave must close here so
    # debugtool sees EOF when the command's side ends.
    if spec["slave"] is not None:
        os.close(spec["slave"])
    os.close(errw)
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


def helper_main(spec_fd: int) -> None:
    """Entry of a spawned joiner (``python -I -S``): read the spec from ``spec_fd``, join, exit."""
    chunks = []
    while True:
        chunk = os.read(spec_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(spec_fd)
    spec = json.loads(b"".join(chunks))
    # The error pipe had to be inheritable to get here; the command must not inherit it.
    os.set_inheritable(spec["errw"], False)
    # Everything the joiner needs is imported now: after setns(mnt) the host's files (and this
    # package) are out of reach.
    import debugtool.nsjoin  # noqa: F401

    if spec["tools_fd"] is not None:
        import debugtool.toolbox  # noqa: F401
    code = 125
    try:
        code = join_and_run(spec)
    finally:
        os._exit(code)


def _become_command(
    spec: dict[str, Any], env: dict[str, str], uid: int, gid: int, groups: list[int]
) -> None:
    """The command's process: session or process group, terminal, privileges, fds, exec."""
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
    slave = spec["slave"]
    if slave is not None:
        os.setsid()
        fcntl.ioctl(slave, TIOCSCTTY, 0)
        for target in (0, 1, 2):
            os.dup2(slave, target)
        os.close(slave)
    else:
        os.setpgid(0, 0)
        foreground = spec["foreground_fd"]
        if foreground is not None:
            # Take the terminal's foreground so Ctrl-C reaches the command, not debugtool.
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            try:
                os.tcsetpgrp(foreground, os.getpgrp())
            except OSError:
                pass
            signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        if spec["stdin_null"]:
            null = os.open("/dev/null", os.O_RDONLY) if os.path.exists("/dev/null") else -1
            if null >= 0:
                os.dup2(null, 0)
                os.close(null)
            else:
                os.close(0)
    if spec["caps"] is not None:
        drop_privileges(spec["caps"], uid, gid, groups)
    else:
        _switch_user(uid, gid, groups)
    if spec["no_new_privs"]:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    # No descriptor of debugtool's may reach the container (CVE-2024-21626): keep 0, 1, 2 and
    # the CLOEXEC error pipe, which closes itself on a successful exec.
    errw = spec["errw"]
    os.closerange(3, errw)
    os.closerange(errw + 1, 1 << 20)
    argv = spec["argv"]
    if "/" in argv[0]:
        os.execve(argv[0], argv, env)
    os.execvpe(argv[0], argv, env)
