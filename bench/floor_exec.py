"""The smallest program that does ``debugtool exec --mode ns ID -- true``'s work: the floor.

Docker's inspect for the PID and environment, a pidfd, the container's cgroups joined, one
setns into its mnt, uts, ipc, net and pid namespaces, a fork and an execve. No audit record, no
sealing, no capability drop, no checks: what is left when debugtool's own work is taken away.
Measured beside ``docker exec`` and ``runc exec`` in bench_exec.py. Usage: floor_exec.py ID
"""

import _json
import _socket
import os
import sys
from ctypes import CDLL, get_errno

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWNET, CLONE_NEWPID = 0x40000000, 0x20000000


class Context:  # the settings json.loads gives _json's scanner
    strict = True
    object_hook = object_pairs_hook = parse_constant = None
    parse_float, parse_int = float, int


sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
sock.connect("/var/run/docker.sock")
sock.sendall(b"GET /v1.41/containers/%s/json HTTP/1.0\r\n\r\n" % sys.argv[1].encode())
answer = b""
while chunk := sock.recv(65536):
    answer += chunk
info = _json.make_scanner(Context())(answer.split(b"\r\n\r\n", 1)[1].decode(), 0)[0]
pid, env = info["State"]["Pid"], info["Config"]["Env"] or []
pidfd = os.pidfd_open(pid)
with open(f"/proc/{pid}/cgroup") as f:
    for line in f:
        _, controllers, path = line.rstrip("\n").split(":", 2)
        hierarchy = controllers.replace("name=", "") or "unified"
        try:
            with open(f"/sys/fs/cgroup/{hierarchy}{path}/cgroup.procs", "w") as procs:
                procs.write(str(os.getpid()))
        except OSError:
            pass
flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID
if CDLL(None, use_errno=True).setns(pidfd, flags) != 0:
    sys.exit(f"setns: errno {get_errno()}")
child = os.fork()
if child == 0:
    os.chdir("/")
    os.execve("/bin/true", ["true"], dict(e.split("=", 1) for e in env))
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
