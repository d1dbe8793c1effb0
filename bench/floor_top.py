"""The smallest program that does ``debugtool top pid:N --json``'s work in Python: its floor.

The PID namespace of process N asked, for each host process, whether it sees it and by what PID
(``NS_GET_TGID_IN_PIDNS``, one ioctl a process, as debugtool asks it); for each of the
container's processes the owner of ``/proc/PID``, ``stat`` and ``cmdline``; users named from
the container's ``/etc/passwd``; the same JSON fields, one process a line, through the C
encoder. No runtime asked (``top NAME`` adds the discovery, bench_top's ``ps --json`` row), no
pinning, no cgroup check, no error handling: what is left when debugtool's own work is taken
away. Measured beside procps ``ps`` and ``debugtool top`` in bench_top.py. Usage: floor_top.py N
"""

import _json
import os
import sys
from fcntl import ioctl

NS_GET_TGID_IN_PIDNS = 0x8004B709
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    data = os.read(fd, 65536)
    os.close(fd)
    return data


init = int(sys.argv[1])
nsfd = os.open(f"/proc/{init}/ns/pid", os.O_RDONLY)
seen = {}
for name in os.listdir("/proc"):
    if name.isdigit():
        try:
            seen[int(name)] = ioctl(nsfd, NS_GET_TGID_IN_PIDNS, int(name))
        except OSError:
            continue
boot = next(float(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
uptime = float(open("/proc/uptime").read().split()[0]) * TICKS
users = {}
for line in read(f"/proc/{init}/root/etc/passwd").decode().splitlines():
    fields = line.split(":")
    if len(fields) > 2 and fields[2].isdigit():
        users.setdefault(int(fields[2]), fields[0])

processes = {}
for pid, nspid in seen.items():
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
        stat = read(f"/proc/{pid}/stat")
        cmdline = read(f"/proc/{pid}/cmdline")
    except OSError:
        continue
    rpar = stat.rfind(b")")
    rest = stat[rpar + 2 :].split(b" ", 22)
    start, cpu = int(rest[19]), int(rest[11]) + int(rest[12])
    processes[pid] = {
        "pid": pid,
        "nspid": nspid,
        "ppid": int(rest[1]),
        "nsppid": None,
        "uid": uid,
        "user": users.get(uid, str(uid)),
        "state": rest[0].decode(),
        "name": stat[stat.find(b"(") + 1 : rpar].decode("utf-8", "surrogateescape"),
        "cmdline": cmdline.rstrip(b"\0").decode("utf-8", "surrogateescape").split("\0")
        if cmdline
        else [],
        "cpu_percent": round(100.0 * cpu / (uptime - start), 1) if uptime > start else 0.0,
        "rss": int(rest[21]) * PAGE,
        "threads": int(rest[17]),
        "start_time": round(boot + start / TICKS, 2),
        "outside_cgroup": False,
        "cpu_time": cpu / TICKS,
        "host_uid": None,
    }
for p in processes.values():
    parent = processes.get(p["ppid"])
    p["nsppid"] = parent["nspid"] if parent else None
encode = _json.make_encoder(
    None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)
rows = sorted(processes.values(), key=lambda p: (p["nspid"], p["pid"]))
sys.stdout.write("[\n  " + ",\n  ".join("".join(encode(p, 0)) for p in rows) + "\n]\n")
