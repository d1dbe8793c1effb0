"""A small client for the Docker Engine API over its unix socket (``DOCKER_HOST`` honoured).

It speaks HTTP/1.0 over a plain socket rather than through ``http.client``: that module pulls in
``email`` and ``ssl`` and costs more to import (about 26 ms here) than listing every container
takes. With HTTP/1.0 the daemon answers with the body and closes: no chunked encoding, no
keep-alive to manage.
"""

from __future__ import annotations

import _socket
import os
import time

from debugtool import jsonc
from debugtool.errors import RuntimeUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator
    from typing import Any

DEFAULT_SOCKET = "/var/run/docker.sock"
API_VERSION = "v1.41"  # Docker 20.10; newer daemons accept it too

#: The largest answer ``request`` reads. ``GET /containers/json?all=1`` takes about 1 KiB a
#: container (3 KiB with Kubernetes' labels), so 32 MiB is over ten thousand containers; decoded,
#: it costs about five times its size. A daemon that sends more is broken or hostile: the answer
#: is refused (and Docker's containers are read from its state files instead) rather than held.
MAX_ANSWER = 32 << 20
#: The status line and headers end within this many bytes, or it is not an HTTP answer.
_MAX_HEAD = 64 << 10


#: What a URL carries as it is (RFC 3986's unreserved characters); the rest is %-escaped.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str) -> str:
    """Return ``text`` %-escaped for one segment of a URL's path or query (``urllib.parse``'s
    ``quote(text, safe="")``, without importing it: about 2 ms)."""
    if text.isascii() and all(ord(c) in _UNRESERVED for c in text):
        return text
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode())


def urlencode(query: dict[str, Any]) -> str:
    """Return ``query`` as ``k=v&k=v``, each key and value %-escaped."""
    return "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in query.items())


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

    def connect(self, timeout: float | None = None) -> _socket.socket:
        """Return a socket connected to the daemon (for a request, or a hijacked stream).

        ``_socket``'s socket, which the ``socket`` module wraps with enums (about 4 ms of
        imports) and conveniences a request does not use.
        """
        timeout = self.timeout if timeout is None else timeout
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
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
        limit: int = MAX_ANSWER,
    ) -> tuple[int, bytes]:
        """Send one request; return ``(status, body)``. Raises ``RuntimeUnavailable``.

        ``timeout`` bounds the whole exchange, not each read, so a daemon that trickles bytes
        cannot hold the caller longer than asked; ``limit`` bounds what is read, so one that
        streams without end cannot fill memory (an answer larger than that is refused).
        """
        status, chunks = self.stream(method, path, query, body, timeout)
        data = bytearray()
        for chunk in chunks:
            data += chunk
            if len(data) > limit:
                chunks.close()
                raise RuntimeUnavailable(
                    self.name,
                    f"answered {method} {path} with more than {_mib(limit)} (not read further)",
                )
        return status, bytes(data)

    def stream(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> tuple[int, Generator[bytes, None, None]]:
        """Send one request; return its status and a generator of the body's chunks as they
        arrive (for an answer of any length, such as a log). Raises ``RuntimeUnavailable``,
        the generator too.

        ``timeout`` bounds the whole exchange, as for ``request``; the socket is closed when
        the generator ends or is closed.
        """
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        payload = jsonc.dumps(body).encode() if body is not None else None
        sock = self.connect(timeout)

        def receive() -> Generator[bytes, None, None]:
            try:
                sock.sendall(self.head(method, path, query, payload) + (payload or b""))
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    sock.settimeout(left)
                    chunk = sock.recv(1 << 16)
                    if not chunk:
                        return
                    yield chunk
            except TimeoutError:
                raise RuntimeUnavailable(
                    self.name, f"did not answer {method} {path} within {timeout:g}s"
                ) from None
            except OSError as exc:
                raise RuntimeUnavailable(self.name, f"{method} {path} failed: {exc}") from None
            finally:
                sock.close()

        chunks = receive()
        head = bytearray()
        for chunk in chunks:
            head += chunk
            if b"\r\n\r\n" in head or len(head) > _MAX_HEAD:
                break
        header, sep, rest = bytes(head).partition(b"\r\n\r\n")
        try:
            if not sep:
                raise ValueError
            status = int(header.split(b" ", 2)[1])
        except (IndexError, ValueError):
            chunks.close()
            raise RuntimeUnavailable(self.name, f"{method} {path}: not an HTTP answer") from None
        return status, _prepend(rest, chunks)

    def get_json(
        self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """GET a JSON document. A non-2xx answer raises ``RuntimeUnavailable`` with its message;
        so does one that is not JSON (cut short, not UTF-8, nested too deeply to decode)."""
        status, data = self.request("GET", path, query, timeout=timeout)
        if status >= 300:
            raise RuntimeUnavailable(self.name, f"GET {path} answered {status}: {message(data)}")
        return decode(data, f"GET {path}", self.name)


def decode(data: bytes, what: str, runtime: str = "docker") -> Any:
    """Return the JSON document in an answer; raise ``RuntimeUnavailable`` when it is not one.

    Strict where Python's ``json`` is lenient: ``NaN``, ``Infinity`` and numbers too large for
    a float (``1e400``) are refused, since no daemon sends them and they would make debugtool's
    own ``--json`` output invalid. The decoder raises ``RecursionError`` past about a
    thousand nested arrays: that is a broken answer too, not a bug to report.
    """
    try:
        return _STRICT(data)
    except RecursionError:
        detail = "nested too deeply"
    except jsonc.DecodeError as exc:
        detail = "an empty body" if not data.strip() else f"{exc.msg} at offset {exc.pos}"
    except UnicodeDecodeError:
        detail = "not UTF-8"
    except ValueError as exc:  # from _no_constant or _finite
        detail = str(exc)
    raise RuntimeUnavailable(runtime, f"answered {what} with something not JSON ({detail})")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_INF = float("inf")


def _finite(text: str) -> float:
    value = float(text)
    if not -_INF < value < _INF:  # math.isfinite, without loading math for it
        raise ValueError(f"{text[:20]} is too large for a number")
    return value


_STRICT = jsonc.decoder(parse_constant=_no_constant, parse_float=_finite)


def _mib(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size} bytes"


def _prepend(first: bytes, rest: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    """Yield ``first`` (when not empty), then what ``rest`` yields; closing closes ``rest``."""
    try:
        if first:
            yield first
        yield from rest
    finally:
        rest.close()


def message(data: bytes) -> str:
    """Return the ``message`` of a Docker error answer (or the start of the body)."""
    try:
        return str(jsonc.loads(data).get("message", "")) or data.decode(errors="replace")[:200]
    except (ValueError, AttributeError, RecursionError):
        return data.decode(errors="replace")[:200]
