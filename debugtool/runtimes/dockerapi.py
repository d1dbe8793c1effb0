"""A small client for the Docker Engine API over its unix socket (``DOCKER_HOST`` honoured).

It speaks HTTP/1.0 over a plain socket rather than through ``http.client``: that module pulls in
``email`` and ``ssl`` and costs more to import (about 26 ms here) than listing every container
takes. With HTTP/1.0 the daemon answers with the body and closes: no chunked encoding, no
keep-alive to manage.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any
from urllib.parse import urlencode

from debugtool.errors import RuntimeUnavailable

DEFAULT_SOCKET = "/var/run/docker.sock"
API_VERSION = "v1.41"  # Docker 20.10; newer daemons accept it too


def socket_path() -> str:
    """Return the Docker socket path from ``DOCKER_HOST`` (``unix://`` only) or the default."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://") :]
    return DEFAULT_SOCKET


class DockerAPI:
    """Requests to one Docker daemon. Every failure to reach it raises ``RuntimeUnavailable``."""

    def __init__(self, path: str | None = None, timeout: float = 2.0, name: str = "docker") -> None:
        self.path = path or socket_path()
        self.timeout = timeout
        self.name = name

    def present(self) -> bool:
        return os.path.exists(self.path)

    def connect(self, timeout: float | None = None) -> socket.socket:
        """Return a socket connected to the daemon (for a request, or a hijacked stream)."""
        timeout = self.timeout if timeout is None else timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(timeout)
        try:
            sock.connect(self.path)
        except FileNotFoundError:
            sock.close()
            raise RuntimeUnavailable(self.name, f"no socket at {self.path}") from None
        except PermissionError:
            sock.close()
            raise RuntimeUnavailable(
                self.name, f"no permission to connect to {self.path}", "Run as root."
            ) from None
        except TimeoutError:
            sock.close()
            raise RuntimeUnavailable(
                self.name, f"not answering at {self.path} within {timeout:g}s"
            ) from None
        except OSError as exc:
            sock.close()
            raise RuntimeUnavailable(
                self.name, f"cannot connect to {self.path}: {exc.strerror or exc}"
            ) from None
        return sock

    @staticmethod
    def head(
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: bytes | None = None,
        extra: str = "",
    ) -> bytes:
        """Return the request line and headers of one HTTP/1.0 request to the API."""
        url = f"/{API_VERSION}{path}" + ("?" + urlencode(query) if query else "")
        text = f"{method} {url} HTTP/1.0\r\nHost: docker\r\n{extra}"
        if body is not None:
            text += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (text + "\r\n").encode()

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; return ``(status, body)``. Raises ``RuntimeUnavailable``.

        ``timeout`` bounds the whole exchange, not each read, so a daemon that trickles bytes
        cannot hold the caller longer than asked.
        """
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        payload = json.dumps(body).encode() if body is not None else None
        sock = self.connect(timeout)
        chunks: list[bytes] = []
        try:
            sock.sendall(self.head(method, path, query, payload) + (payload or b""))
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            raise RuntimeUnavailable(
                self.name, f"did not answer {method} {path} within {timeout:g}s"
            ) from None
        except OSError as exc:
            raise RuntimeUnavailable(self.name, f"{method} {path} failed: {exc}") from None
        finally:
            sock.close()
        header, _, data = b"".join(chunks).partition(b"\r\n\r\n")
        try:
            status = int(header.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise RuntimeUnavailable(self.name, f"{method} {path}: not an HTTP answer") from None
        return status, data

    def get_json(
        self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """GET a JSON document; a non-2xx answer raises ``RuntimeUnavailable`` with its message."""
        status, data = self.request("GET", path, query, timeout=timeout)
        if status >= 300:
            raise RuntimeUnavailable(self.name, f"GET {path} answered {status}: {message(data)}")
        return json.loads(data)


def message(data: bytes) -> str:
    """Return the ``message`` of a Docker error answer (or the start of the body)."""
    try:
        return str(json.loads(data).get("message", "")) or data.decode(errors="replace")[:200]
    except (ValueError, AttributeError):
        return data.decode(errors="replace")[:200]
