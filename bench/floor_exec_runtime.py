"""The smallest program that does ``debugtool exec ID -- true``'s work through Docker's API.

What ``docker exec`` does too: create the exec, start it on a hijacked connection and read
its output to the end, inspect it for the exit code. No audit record, no watchdog, no pinning:
the floor under runtime mode, measured beside ``docker exec`` in bench_exec.py.
Usage: floor_exec_runtime.py ID
"""

import _json
import _socket
import sys

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


cid = sys.argv[1]
create = b'{"AttachStdout": true, "AttachStderr": true, "Cmd": ["true"]}'
exec_id = decode(request("POST", f"/containers/{cid}/exec", create))["Id"]
request("POST", f"/exec/{exec_id}/start", b'{"Detach": false, "Tty": false}', upgrade=True)
sys.exit(decode(request("GET", f"/exec/{exec_id}/json"))["ExitCode"])
