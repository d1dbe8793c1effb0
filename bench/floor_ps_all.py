"""The smallest program that does ``debugtool ps``'s work over every runtime in Python: its floor.

It asks what debugtool asks, once each, and nothing more: Docker's list over its socket;
containerd's gRPC API (``Namespaces/List``, then ``Containers/List`` and ``Tasks/List`` for each
namespace, every call of a round trip on one HTTP/2 connection) on the default daemon's socket
and Docker's own; the runc state roots (runc's, Docker's, each containerd namespace's: the head
of each ``state.json``, the init's start time checked against ``/proc/PID/stat``) and crun's;
podman's storage (root's ``containers.json`` and each user's); and the PID namespace of every
process (one ``readlink`` each), a sandbox's init named from its ``status``; and for each of
Docker's containers the ``State`` of its ``config.v2.json`` (its last state, which ps shows).
Records of one container fold by id, a sandbox into the container whose init it holds; one line
a container: id, name, image, state, and the backends that saw it.

HTTP/2 is spoken in its smallest form: literal headers, windows opened wide at once, answers'
header blocks never decoded (a call that failed answers no message and lists nothing). The C
modules (``_socket``, ``_json``) stand in for ``socket`` and ``json``, as in floor_ps.py.
Measured beside ``docker ps`` and ``debugtool ps`` in bench_ps.py: if this is above the goal,
no Python client doing that work meets it.
"""

import _json
import _socket
import os
import sys

from floor_ps import host_pid  # the head of runc's state.json, checked against /proc

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
WIDE = (1 << 31) - 1


class Context:  # the settings json.loads gives _json's scanner
    strict = True
    object_hook = object_pairs_hook = parse_constant = None
    parse_float, parse_int = float, int


scan_json = _json.make_scanner(Context())


def docker() -> list[tuple[str, str, str, str]]:
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.connect("/var/run/docker.sock")
    except OSError:
        return []
    sock.sendall(b"GET /v1.41/containers/json HTTP/1.0\r\nHost: docker\r\n\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    body = answer.split(b"\r\n\r\n", 1)[1].decode()
    listed = [(c["Id"], c["Names"][0][1:], c["Image"], c["State"]) for c in scan_json(body, 0)[0]]
    for cid, *_ in listed:
        last_state(cid)
    return listed


def last_state(cid: str) -> dict:
    """Return the ``State`` of Docker's own record of a container (its last exit, restarts and
    times, which debugtool's ps shows), decoded where it stands in ``config.v2.json``."""
    try:
        with open(f"/var/lib/docker/containers/{cid}/config.v2.json") as f:
            text = f.read()
    except OSError:
        return {}
    return scan_json(text, text.index('"State":') + 8)[0]


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload
    )


def literal(name: str, value: str) -> bytes:  # HPACK: literal, new name, lengths below 127
    return bytes((0, len(name))) + name.encode() + bytes((len(value),)) + value.encode()


def grpc(sock: _socket.socket, stream: int, calls: list[tuple[str, str]]) -> list[bytes]:
    """Make unary ``(method, namespace)`` calls with empty requests; return each one's message."""
    out = bytearray()
    ids = []
    for method, namespace in calls:
        block = literal(":method", "POST") + literal(":scheme", "http") + literal(":path", method)
        block += literal(":authority", "localhost") + literal("content-type", "application/grpc")
        if namespace:
            block += literal("containerd-namespace", namespace)
        out += frame(1, 4, stream, block) + frame(0, 1, stream, b"\0\0\0\0\0")
        ids.append(stream)
        stream += 2
    sock.sendall(out)
    data = {i: b"" for i in ids}
    pending = set(ids)
    buffer = b""
    while pending:
        while len(buffer) < 9 or len(buffer) < 9 + int.from_bytes(buffer[:3], "big"):
            chunk = sock.recv(262144)
            if not chunk:
                return [data[i][5:] for i in ids]
            buffer += chunk
        size, kind, flags = int.from_bytes(buffer[:3], "big"), buffer[3], buffer[4]
        sid = int.from_bytes(buffer[5:9], "big")
        if kind == 0 and sid in data:
            data[sid] += buffer[9 : 9 + size]
        if kind in (0, 1, 3) and (flags & 1 or kind == 3):
            pending.discard(sid)
        buffer = buffer[9 + size :]
    return [data[i][5:] for i in ids]


def varint(msg: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = msg[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def fields(msg: bytes) -> list[tuple[int, int | bytes]]:
    """Return a protobuf message's (field number, value): varints and length-delimited only."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(msg):
        key, pos = varint(msg, pos)
        if key & 7 == 0:
            value, pos = varint(msg, pos)
            out.append((key >> 3, value))
        elif key & 7 == 2:
            size, pos = varint(msg, pos)
            out.append((key >> 3, msg[pos : pos + size]))
            pos += size
        else:  # fixed 64 or 32 bits
            pos += 8 if key & 7 == 1 else 4
    return out


def containerd(address: str) -> list[tuple[str, str, str, int]]:
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.connect(address)
    except OSError:
        return []
    settings = (2).to_bytes(2, "big") + bytes(4) + (4).to_bytes(2, "big") + WIDE.to_bytes(4, "big")
    sock.sendall(
        PREFACE + frame(4, 0, 0, settings) + frame(8, 0, 0, (WIDE - 65535).to_bytes(4, "big"))
    )
    listed = grpc(sock, 1, [("/containerd.services.namespaces.v1.Namespaces/List", "")])[0]
    names = [dict(fields(n))[1].decode() for f, n in fields(listed) if f == 1]  # type: ignore[union-attr]
    calls = []
    for ns in names:
        calls.append(("/containerd.services.containers.v1.Containers/List", ns))
        calls.append(("/containerd.services.tasks.v1.Tasks/List", ns))
    answers = grpc(sock, 3, calls)
    found = []
    states = {1: "created", 2: "running", 3: "stopped", 4: "paused", 5: "paused"}
    for containers, tasks in zip(answers[::2], answers[1::2], strict=True):
        running = {}
        for _, task in fields(tasks):
            t = dict(fields(task))  # type: ignore[arg-type]
            running[(t.get(2) or t.get(1) or b"").decode()] = (t.get(3, 0), t.get(4, 0))
        for _, container in fields(containers):
            c = dict(fields(container))  # type: ignore[arg-type]
            cid = c[1].decode()  # type: ignore[union-attr]
            pid, status = running.get(cid, (0, 1))
            found.append((cid, c.get(3, b"").decode(), states.get(status, "unknown"), pid))  # type: ignore[union-attr]
    return found


def runc() -> list[tuple[str, int]]:
    roots = ["/run/runc"]
    for parent in ("/run/docker/runtime-runc", "/run/containerd/runc"):
        try:
            roots += [f"{parent}/{ns}" for ns in os.listdir(parent)]
        except OSError:
            pass
    found = []
    for root in roots:
        try:
            entries = os.listdir(root)
        except OSError:
            continue
        found += [(cid, host_pid(f"{root}/{cid}") or 0) for cid in entries]
    return [(cid, pid) for cid, pid in found if pid]


def crun() -> list[str]:
    try:
        return [e for e in os.listdir("/run/crun") if not e.startswith(".")]
    except OSError:
        return []


def podman() -> list[tuple[str, str, str]]:
    stores = ["/var/lib/containers/storage"]
    with open("/etc/passwd") as f:
        homes = [line.split(":")[5] for line in f if line.count(":") == 6]
    stores += [f"{home}/.local/share/containers/storage" for home in homes]
    found = []
    for store in stores:
        try:
            with open(f"{store}/overlay-containers/containers.json") as f:
                records = scan_json(f.read(), 0)[0]
        except OSError:
            continue
        found += [(r["id"], (r.get("names") or [""])[0], r.get("image", "")) for r in records]
    return found


def sandboxes() -> dict[int, str]:
    """Return ``{pid: comm}`` of one process per PID namespace but the host's."""
    groups: dict[str, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                groups.setdefault(os.readlink(f"/proc/{name}/ns/pid"), []).append(int(name))
            except OSError:
                pass
    groups.pop(os.readlink("/proc/self/ns/pid"), None)
    found = {}
    for pids in groups.values():
        pid = min(pids)
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                comm = f.readline()[6:-1].decode()
        except OSError:
            continue
        found[pid] = comm
    return found


rows: dict[str, list[str]] = {}  # id -> [name, image, state, backends]
for cid, name, image, state in docker():
    rows[cid] = [name, image, state, "docker"]
pids: set[int] = set()
addresses = ["/run/containerd/containerd.sock", "/run/docker/containerd/containerd.sock"]
for address in addresses:
    for cid, image, state, pid in containerd(address):
        pids.add(pid)
        row = rows.setdefault(cid, [cid, image, state, ""])
        row[3] += ",containerd"
for cid, pid in runc():
    pids.add(pid)
    rows.setdefault(cid, [cid, "", "running", ""])[3] += ",runc"
for cid in crun():
    rows.setdefault(cid, [cid, "", "running", ""])[3] += ",crun"
for cid, name, image in podman():
    rows.setdefault(cid, [name, image, "", ""])[3] += ",podman"
for pid, comm in sandboxes().items():
    if pid not in pids:
        rows[f"pid-{pid}"] = [comm, "", "running", "none"]
out = [f"{cid[:12]}  {n}  {i}  {s}  {b.strip(',')}" for cid, (n, i, s, b) in rows.items()]
sys.stdout.write("\n".join(out) + "\n")
