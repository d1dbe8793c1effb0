"""The smallest program that does ``debugtool ps --runtime docker``'s work in Python: its floor.

One HTTP/1.0 request over Docker's socket, the answer decoded; for each running container the
host PID of its init, read as debugtool reads it (the head of runc's ``state.json`` and
``/proc/PID/stat``, whose start time must match, so a reused PID is refused); one line a
container. ``--no-pid`` leaves the PIDs out: then it is ``docker ps``'s work. It uses the C
modules (``_socket``, ``_json``) that ``socket`` and ``json`` wrap, as debugtool does, so the
figure is the interpreter, the daemon and /proc, nothing else. Measured beside ``docker ps``
and ``debugtool ps --runtime docker`` in bench_ps.py: the gap to it is debugtool's own cost.
floor_ps_all.py reads runc's state files with its ``host_pid``.
"""

import _json
import _socket
import os
import sys


class Context:  # the settings json.loads gives _json's scanner
    strict = True
    object_hook = object_pairs_hook = parse_constant = None
    parse_float, parse_int = float, int


DOCKER_RUNC_ROOT = "/run/docker/runtime-runc/moby"


def host_pid(state_dir: str) -> int | None:
    """Return the init's PID from the head of a runc ``state.json`` in ``state_dir``, None when
    it is gone or its PID was reused (the start time must match ``/proc/PID/stat``'s)."""
    try:
        fd = os.open(f"{state_dir}/state.json", os.O_RDONLY)
    except OSError:
        return None
    head = os.read(fd, 512)
    os.close(fd)
    # {"id":"...","init_process_pid":N,"init_process_start":T,...}
    try:
        pid = int(head.split(b'"init_process_pid":', 1)[1].split(b",", 1)[0])
        start = int(head.split(b'"init_process_start":', 1)[1].split(b",", 1)[0])
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except (IndexError, ValueError, OSError):
        return None
    stat = os.read(fd, 4096)
    os.close(fd)
    return pid if int(stat.rsplit(b")", 1)[1].split()[19]) == start else None


def main() -> None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect("/var/run/docker.sock")
    sock.sendall(b"GET /v1.41/containers/json HTTP/1.0\r\nHost: docker\r\n\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    body = answer.split(b"\r\n\r\n", 1)[1].decode()
    pids = "--no-pid" not in sys.argv
    out = []
    for c in _json.make_scanner(Context())(body, 0)[0]:
        line = f"{c['Id'][:12]}  {c['Names'][0][1:]}  {c['Image']}  {c['State']}"
        if pids:
            pid = host_pid(DOCKER_RUNC_ROOT + "/" + c["Id"]) if c["State"] == "running" else ""
            line += f"  {pid}"
        out.append(line)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
