"""The smallest program that does ``debugtool exec ID -- true``'s work through Docker's API.

What ``docker exec`` does too: create the exec, start it on a hijacked connection and read
its output to the end, inspect it for the exit code. No audit record, no watchdog, no pinning:
the floor under runtime mode, measured beside ``docker exec`` in bench_exec.py.

``--accountable`` adds, in the same one file, what debugtool's runtime mode does around that
work for the accountability the other issues ask for, each the smallest way: the container's
inspect and a pidfd on its process (the pinning), who runs it (login uid, the user's name),
a start and an end record chained to the log's last line (SHA-256, sealed, one ``O_APPEND``
write under ``flock``, ``fsync``), and the watchdog shell debugtool starts. No option
parsing, no reason policy, no configuration, no checks: what is left between this and
debugtool is the shape of its code (its modules and their work).
Usage: floor_exec_runtime.py [--accountable] ID
"""

import _json
import _socket
import os
import sys

LOG = os.environ.get("DEBUGTOOL_AUDIT_LOG", "/var/log/debugtool/audit.jsonl")
WATCHDOG = (
    "trap '' INT HUP TERM QUIT; "
    '{ IFS= read -r word; [ "$word" = . ] || exec "$0" "$@"; } <&3 3<&- & exit 0'
)

SOCKET = "/var/run/docker.sock"


class Context:  # the settings json.loads gives _json's scanner
    strict = True
    object_hook = object_pairs_hook = parse_constant = None
    parse_float, parse_int = float, int


def request(method: str, path: str, body: bytes = b"", upgrade: bool = False) -> bytes:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(SOCKET)
    head = f"{method} /v1.41{path} HTTP/1.{1 if upgrade else 0}\r\nHost: docker\r\n"
    if upgrade:
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    sock.sendall(head.encode() + body)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    return answer.split(b"\r\n\r\n", 1)[1]


def decode(data: bytes) -> dict:
    return _json.make_scanner(Context())(data.decode(), 0)[0]


def record(fields: dict) -> None:
    """Append one record chained to the log's last line, sealed, fsync'd (as audit.write)."""
    import fcntl
    from _sha256 import sha256

    fd = os.open(LOG, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        end = os.fstat(fd).st_size
        tail = os.pread(fd, min(end, 8192), max(0, end - 8192)).rstrip(b"\n")
        last = tail.rsplit(b"\n", 1)[-1]
        fields["prev"] = sha256(last).hexdigest() if last else ""
        body = "{" + ", ".join(f"{quote(k)}: {value(v)}" for k, v in fields.items())
        line = f'{body}, "digest": "{sha256(body.encode()).hexdigest()}"}}\n'
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def value(v: object) -> str:
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "null"}[v]
    if isinstance(v, list):
        return "[" + ", ".join(map(value, v)) + "]"
    return str(v)


quote = _json.encode_basestring_ascii
accountable = sys.argv[1] == "--accountable"
cid = sys.argv[-1]
if accountable:
    import pwd
    import time

    info = decode(request("GET", f"/containers/{cid}/json"))
    pidfd = os.pidfd_open(info["State"]["Pid"])
    with open("/proc/self/loginuid") as f:
        loginuid = int(f.read())
    fields = {
        "action": "exec", "argv": ["true"], "debugtool_pid": os.getpid(),
        "target_id": info["Id"], "target_name": info["Name"].lstrip("/"), "runtime": "docker",
        "mode": "runtime", "user": pwd.getpwuid(os.getuid()).pw_name, "loginuid": loginuid,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "epoch": time.time(), "event": "start",
    }  # fmt: skip
    record(fields)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    watchdog = os.posix_spawn(
        "/bin/sh",
        ["sh", "-c", WATCHDOG, sys.executable, "-I", "-S", "-c", "pass"],
        {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        file_actions=[
            (os.POSIX_SPAWN_DUP2, read_end, 3),
            *((os.POSIX_SPAWN_OPEN, std, os.devnull, os.O_RDWR, 0) for std in (0, 1, 2)),
        ],
        setsid=True,
    )
    os.close(read_end)
create = b'{"AttachStdout": true, "AttachStderr": true, "Cmd": ["true"]}'
exec_id = decode(request("POST", f"/containers/{cid}/exec", create))["Id"]
request("POST", f"/exec/{exec_id}/start", b'{"Detach": false, "Tty": false}', upgrade=True)
code = decode(request("GET", f"/exec/{exec_id}/json"))["ExitCode"]
if accountable:
    os.write(write_end, b".\n")
    os.close(write_end)
    os.waitpid(watchdog, 0)
    record({**fields, "event": "end", "exit_code": code, "epoch": time.time()})
sys.exit(code)
