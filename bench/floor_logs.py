"""The smallest program that does ``debugtool logs --tail 1000 FULL-ID``'s work in Python: its
floor.

One inspect request over Docker's socket (the container exists and runs, its log file), the
end of its json-file read backwards until it holds 1,000 lines, those lines decoded in one
call of the C decoder, each written as it was logged (stdout's to stdout, stderr's to
stderr). It uses the C modules (``_socket``, ``_json``) as debugtool does, so the figure is
the interpreter, the daemon and the file, nothing else. Measured beside ``docker logs`` and
``debugtool logs`` in bench_logs.py: the gap to it is debugtool's own cost.
Usage: floor_logs.py FULL-ID [LINES]
"""

import _json
import _socket
import os
import sys


class Context:  # the settings json.loads gives _json's scanner
    strict = True
    object_hook = object_pairs_hook = parse_constant = None
    parse_float, parse_int = float, int


scan = _json.make_scanner(Context())
cid, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
sock.connect("/var/run/docker.sock")
sock.sendall(f"GET /v1.41/containers/{cid}/json HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
answer = b""
while chunk := sock.recv(65536):
    answer += chunk
record = scan(answer.split(b"\r\n\r\n", 1)[1].decode(), 0)[0]
if not record["State"]["Running"]:
    sys.exit("not running")
fd = os.open(record["LogPath"], os.O_RDONLY)
end = os.fstat(fd).st_size
window = count * 128
while True:
    start = max(0, end - window)
    data = os.pread(fd, end - start, start)
    if start == 0 or data.count(b"\n") > count:
        break
    window *= 4
lines = data.rstrip(b"\n").rsplit(b"\n", count)[-count:]
entries = scan("[" + b",".join(lines).decode() + "]", 0)[0]
out = [e["log"] for e in entries if e["stream"] == "stdout"]
err = [e["log"] for e in entries if e["stream"] != "stdout"]
sys.stdout.write("".join(out))
sys.stderr.write("".join(err))
