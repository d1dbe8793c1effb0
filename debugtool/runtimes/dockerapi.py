"""A small client for the Docker Engine API over its unix socket (``DOCKER_HOST`` honoured)."""

from __future__ import annotations

import http.client
import json
import os
import socket
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


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class DockerAPI:
    """Requests to one Docker daemon. Every failure to reach it raises ``RuntimeUnavailable``."""

    def __init__(self, path: str | None = None, timeout: float = 2.0, name: str = "docker") -> None:
        self.path = path or socket_path()
        self.timeout = timeout
        self.name = name

    def present(self) -> bool:
        return os.path.exists(self.path)

    def connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        """Return a connected HTTP connection to the daemon (for streaming or hijacking)."""
        conn = _UnixConnection(self.path, self.timeout if timeout is None else timeout)
        try:
            conn.connect()
        except FileNotFoundError:
            raise RuntimeUnavailable(self.name, f"no socket at {self.path}") from None
        except PermissionError:
            raise RuntimeUnavailable(
                self.name, f"no permission to connect to {self.path}", "Run as root."
            ) from None
        except TimeoutError:
            raise RuntimeUnavailable(
                self.name, f"not answering at {self.path} within {self.timeout:g}s"
            ) from None
        except OSError as exc:
            raise RuntimeUnavailable(
                self.name, f"cannot connect to {self.path}: {exc.strerror}"
            ) from None
        return conn

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; return ``(status, body)``. Raises ``RuntimeUnavailable``."""
        url = f"/{API_VERSION}{path}"
        if query:
            url += "?" + urlencode(query)
        conn = self.connection(timeout)
        try:
            headers = {"Host": "docker"}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, url, body=payload, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except TimeoutError:
            raise RuntimeUnavailable(
                self.name, f"did not answer {method} {path} within {conn.timeout:g}s"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise RuntimeUnavailable(self.name, f"{method} {path} failed: {exc}") from None
        finally:
            conn.close()

    def get_json(
        self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """GET a JSON document; a non-2xx answer raises ``RuntimeUnavailable`` with its message."""
        status, data = self.request("GET", path, query, timeout=timeout)
        if status >= 300:
            message = _message(data)
            raise RuntimeUnavailable(self.name, f"GET {path} answered {status}: {message}")
        return json.loads(data)


def _message(data: bytes) -> str:
    try:
        return str(json.loads(data).get("message", "")) or data.decode(errors="replace")[:200]
    except ValueError:
        return data.decode(errors="replace")[:200]
