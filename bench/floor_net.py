"""The smallest program that does ``debugtool net ID --json``'s socket work in Python: its floor.

Given the container's PID: a sock_diag netlink socket made inside its network namespace
(ctypes ``setns``); the TCP and UDP dumps of both families, one ``unpack_from`` a message; the
owners from the descriptor links of every process in that network namespace (and status's
``Name`` and ``NSpid`` of each holder); the sockets' JSON fields, one socket a line, through the
C encoder. No runtime asked (debugtool asks Docker for a full id, a few ms), interfaces, routes,
UNIX and raw sockets and DNS left out (a few ms; the bench's sockets are TCP), no sorting and no
checks: what is left when debugtool's own work is taken away. Measured beside ``ss -tanp`` and
``debugtool net`` in bench_net.py. Usage: floor_net.py PID
"""

import _json
import _socket
import os
import struct
import sys
from ctypes import CDLL

CLONE_NEWNET = 0x40000000
SOCK_DIAG_BY_FAMILY = 20
STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
          6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
          11: "CLOSING"}  # fmt: skip
REPLY = struct.Struct("=IH10xBB2x2H16s16s16x4I")


init = int(sys.argv[1])
netfd = os.open(f"/proc/{init}/ns/net", os.O_RDONLY)
netns = os.fstat(netfd).st_ino
CDLL(None).setns(netfd, CLONE_NEWNET)
diag = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG

sockets = []
names: dict[bytes, str] = {}
for family, suffix in ((_socket.AF_INET, ""), (_socket.AF_INET6, "6")):
    for proto, base in ((_socket.IPPROTO_TCP, "tcp"), (_socket.IPPROTO_UDP, "udp")):
        protocol = base + suffix
        request = struct.pack("=BBBxI", family, proto, 0, 0xFFFFFFFF) + bytes(48)
        diag.send(
            struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, 0x301, 1, 0) + request
        )
        done = False
        while not done:
            data = diag.recv(1 << 20)
            offset = 0
            while offset + 16 <= len(data):
                length, mtype = struct.unpack_from("=IH", data, offset)
                if mtype != SOCK_DIAG_BY_FAMILY:
                    done = True
                    break
                _, _, fam, state, sport, dport, src, dst, rq, wq, uid, inode = REPLY.unpack_from(
                    data, offset
                )
                size = 4 if fam == _socket.AF_INET else 16
                local = names.get(src) or names.setdefault(src, _socket.inet_ntop(fam, src[:size]))
                remote = names.get(dst) or names.setdefault(dst, _socket.inet_ntop(fam, dst[:size]))
                sockets.append({
                    "protocol": protocol,
                    "state": "UNCONN" if state == 7 and base == "udp" else STATES.get(state, str(state)),
                    "local_address": local, "local_port": _socket.ntohs(sport),
                    "remote_address": remote, "remote_port": _socket.ntohs(dport),
                    "path": "", "inode": inode, "uid": uid, "rx_queue": rq, "tx_queue": wq,
                    "pids": [], "nspids": [], "process": "", "socket_type": "", "peer_inode": 0,
                })  # fmt: skip
                offset += (length + 3) & ~3

owners = {}
for name in os.listdir("/proc"):
    if not name.isdigit():
        continue
    try:
        if os.stat(f"/proc/{name}/ns/net").st_ino != netns:
            continue
        fds = os.open(f"/proc/{name}/fd", os.O_RDONLY | os.O_DIRECTORY)
        links = [os.readlink(fd, dir_fd=fds) for fd in os.listdir(fds)]
        os.close(fds)
        status = open(f"/proc/{name}/status").read()
    except OSError:
        continue
    comm = status.split("\n", 1)[0].split("\t", 1)[1]
    nspid = int(status.split("NSpid:", 1)[1].split("\n", 1)[0].split()[-1])
    holder = (int(name), nspid, comm)
    for link in links:
        if link.startswith("socket:["):
            owners[int(link[8:-1])] = holder
for s in sockets:
    held = owners.get(s["inode"])
    if held:
        s["pids"], s["nspids"], s["process"] = [held[0]], [held[1]], held[2]
encode = _json.make_encoder(
    None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)
sys.stdout.write(
    '{\n  "sockets": [\n    '
    + ",\n    ".join("".join(encode(s, 0)) for s in sockets)
    + "\n  ]\n}\n"
)
