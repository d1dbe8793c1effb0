"""Which log belongs to a container, and reading it: ``open_log(source, container)``.

Per runtime:

- Docker: the Engine API (``GET /containers/ID/logs``), which reads whatever log driver the
  container has. When dockerd does not answer (it hangs, or is down and its containers were
  listed from its state files), the json-file on disk (``DATA_ROOT/containers/ID/ID-json.log``
  and its rotated ``.1``, ``.2`` ...). The ``local`` driver's files are compressed protobuf
  that only dockerd reads: then one sentence says so.
- podman: the k8s-file (CRI format) at ``HostConfig.LogConfig.Path``, by default the
  container's ``userdata/ctr.log``; the journald driver through ``journalctl
  CONTAINER_ID_FULL=ID`` when journalctl is installed.
- containerd: a Kubernetes container's CRI log file (``/var/log/pods/...``, the path CRI
  records with it); a task created with a ``file://`` log URI (``ctr run --log-uri``), that
  file as it was written. A task started without one (``ctr run -d``) gives its output to
  FIFOs that only its shim reads: nothing is kept, and ``NoLog`` says so.
- runc, crun and sandboxes no runtime owns keep nothing: ``NoLog`` says where the init
  process's stdout goes, as the host sees ``/proc/PID/fd/1`` (a pipe, a terminal, a file),
  without opening it.
- A support bundle: its ``logs.txt``, already redacted when it was captured.

``NoLog`` exits 1, not 125: debugtool did not fail, there is no log to show.
"""

from __future__ import annotations

import os
import time

from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError, RuntimeUnavailable
from debugtool.logs import files
from debugtool.logs.formats import (
    CriDecoder,
    Decoder,
    DockerStreamDecoder,
    DockerStreamError,
    JournalDecoder,
    JsonFileDecoder,
    LogLine,
    RawDecoder,
    parse_bundle_line,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from collections.abc import Callable, Generator
    from typing import BinaryIO

    from debugtool.model import Container
    from debugtool.source import Source

#: How often a followed file is looked at (a stat and a read that returns nothing, when idle).
POLL_INTERVAL = 0.05
#: How often a follow with nothing new checks that the container still runs.
ALIVE_INTERVAL = 0.5
#: How long a runtime's log stream is still read once its container stopped, for the lines
#: its log driver had not handed over yet (the runtime ends the stream itself after them).
STREAM_GRACE = 2.0


class NoLog(DebugtoolError):
    """The container's runtime keeps no log of it: one sentence saying where its output goes."""

    exit_code = 1


class Log:
    """One container's log, where its runtime keeps it.

    ``where`` says in a few words where it is read from (for ``--debug`` and the TUI).
    """

    where = ""

    def read(
        self,
        tail: int | None = None,
        since: int | None = None,
        follow: bool = False,
        alive: Callable[[], bool] | None = None,
    ) -> Generator[list[LogLine], None, None]:
        """Yield the log's lines in batches, oldest first: the last ``tail`` (all when None)
        of those at or after ``since`` (nanoseconds since the epoch); with ``follow``, then
        every new line as it is written, until the container stops (``alive`` returns False,
        checked about every half second, or the runtime ends the stream) or the caller
        closes the generator.

        Raises ``DebugtoolError`` subclasses: ``NoLog``, ``RuntimeUnavailable``,
        ``ContainerGone``.
        """
        raise NotImplementedError


# --- log files -----------------------------------------------------------------------------


class FileLog(Log):
    """A log file on the host in one format, with the files rotation left beside it."""

    def __init__(self, path: str, decoder: Callable[[], Decoder], where: str) -> None:
        self.path = path
        self.decoder = decoder
        self.where = where

    def read(
        self,
        tail: int | None = None,
        since: int | None = None,
        follow: bool = False,
        alive: Callable[[], bool] | None = None,
    ) -> Generator[list[LogLine], None, None]:
        f = self._open(follow)
        if f is None:
            return
        try:
            end = os.fstat(f.fileno()).st_size
            decoder = self.decoder()
            if tail is None and since is None:
                for older in files.rotated(self.path):
                    lines, _ = self._older(older, None)
                    if lines:
                        yield lines
                yield from files.read_all(f, end, decoder)
                if not follow:
                    last = decoder.end()
                    if last:
                        yield last
            else:
                lines, done = files.tail(f, end, self.decoder, tail, since)
                for older in reversed(files.rotated(self.path)):
                    if done:
                        break
                    earlier, past = self._older(older, since)
                    lines = earlier + lines
                    done = past or (tail is not None and len(lines) >= tail)
                if tail is not None:
                    lines = lines[-tail:] if tail else []
                if lines:
                    yield lines
            if not follow:
                return
            follower = files.Follower(self.path, f, end, decoder)
            f = None  # the follower owns it now
            waker = files.Waker(self.path)
            try:
                checked = time.monotonic()
                while True:
                    lines = follower.poll()
                    if lines:
                        yield lines
                        continue
                    now = time.monotonic()
                    if alive is not None and now - checked >= ALIVE_INTERVAL:
                        checked = now
                        if not alive():
                            last = follower.poll() + follower.decoder.end()
                            if last:
                                yield last
                            return
                    waker.wait(ALIVE_INTERVAL)
            finally:
                waker.close()
                follower.close()
        finally:
            if f is not None:
                f.close()

    def _open(self, follow: bool) -> BinaryIO | None:
        """Open the log file; None when it is not there (yet) and there is nothing to wait
        for. Raises ``RuntimeUnavailable`` when it cannot be read."""
        while True:
            try:
                return files.open_regular(self.path)
            except FileNotFoundError:
                if not follow:
                    return None
            except files.NotRegular:
                raise RuntimeUnavailable(
                    "logs", f"{self.path} is not a regular file, so debugtool does not read it"
                ) from None
            except OSError as exc:
                raise RuntimeUnavailable(
                    "logs", f"cannot read {self.path}: {exc.strerror or exc}"
                ) from None
            time.sleep(POLL_INTERVAL * 4)

    def _older(self, path: str, since: int | None) -> tuple[list[LogLine], bool]:
        """Return the lines of a rotated file at or after ``since``, and whether it held
        older ones (so files older still need not be read)."""
        try:
            lines = files.read_older(path, self.decoder())
        except (OSError, EOFError):
            return [], False  # deleted by a rotation meanwhile, or a torn gzip: show the rest
        if since is None:
            return lines, False
        kept = [line for line in lines if files.at_or_after(line, since)]
        return kept, len(kept) < len(lines)


# --- Docker ----------------------------------------------------------------------------------


class DockerLog(Log):
    """A Docker container's log: any log driver dockerd can read back.

    A container with the json-file driver (Docker's default) has its log read from that file,
    from its end, and followed there: dockerd would read the same file, and asking it costs
    about 10 ms more for ``--tail 1000`` of a 10 MB log (a third of ``docker logs``); and
    dockerd 20.10's follow repeats and drops lines when the file rotates (``docker logs -f``
    printed 6,073 lines, 6,000 of them distinct, for 6,000 written across four rotations),
    where the file follower gives each line once. Other drivers go through the Engine API's
    stream. When the daemon cannot be reached or does not answer within ``timeout``, and the
    container's json-file is on disk, that file is read instead, with a warning.
    """

    where = "Docker's API"

    def __init__(
        self, container: Container, timeout: float, warn: Callable[[str], None] | None
    ) -> None:
        self.container = container
        self.timeout = timeout
        self.warn = warn

    def read(
        self,
        tail: int | None = None,
        since: int | None = None,
        follow: bool = False,
        alive: Callable[[], bool] | None = None,
    ) -> Generator[list[LogLine], None, None]:
        direct = docker_json_file(self.container)
        if direct is not None:
            yield from direct.read(tail, since, follow, alive)
            return
        try:
            sock, first = self._request(tail, since, follow)
        except RuntimeUnavailable as exc:
            fallback = docker_file_log(self.container)
            if fallback is None:
                raise
            if self.warn is not None:
                self.warn(f"{exc.message}; reading {fallback.path} instead.")
            yield from fallback.read(tail, since, follow, alive)
            return
        decoder = DockerStreamDecoder()
        gone_at: float | None = None  # when ``alive`` first said no
        if follow and alive is not None:
            sock.settimeout(ALIVE_INTERVAL)  # to ask ``alive`` while no line comes
        try:
            chunk = first
            while True:
                if chunk:
                    lines = decoder.feed(chunk)
                    if lines:
                        yield lines
                try:
                    chunk = sock.recv(1 << 16)
                except TimeoutError:
                    if follow and alive is not None:
                        if not alive():
                            # dockerd ends the stream itself once the container has stopped
                            # and its log driver has handed over the last lines, a moment
                            # after the process exits: wait for that, but not for ever.
                            if gone_at is None:
                                gone_at = time.monotonic()
                            elif time.monotonic() - gone_at >= STREAM_GRACE:
                                break
                        chunk = b""
                        continue
                    raise RuntimeUnavailable(
                        "docker", f"stopped sending the log within {self.timeout:g}s"
                    ) from None
                except OSError as exc:
                    raise RuntimeUnavailable("docker", f"log stream failed: {exc}") from None
                if not chunk:
                    break
            last = decoder.end()
            if last:
                yield last
        except DockerStreamError as exc:
            raise RuntimeUnavailable("docker", f"ended the log with an error: {exc}") from None
        finally:
            sock.close()

    def _request(
        self, tail: int | None, since: int | None, follow: bool
    ) -> tuple[_socket.socket, bytes]:
        """Send the request and read the answer's head; return the socket and the first body
        bytes. Raises ``RuntimeUnavailable``, ``ContainerGone`` or ``NoLog``."""
        from debugtool.runtimes.dockerapi import DockerAPI, message, quote

        api = DockerAPI(timeout=self.timeout)
        query = {"stdout": "1", "stderr": "1", "timestamps": "1"}
        query["tail"] = "all" if tail is None else str(tail)
        if since is not None:
            query["since"] = f"{since // 1_000_000_000}.{since % 1_000_000_000:09d}"
        if follow:
            query["follow"] = "1"
        path = f"/containers/{quote(self.container.id)}/logs"
        sock = api.connect()
        head = bytearray()
        try:
            sock.sendall(api.head("GET", path, query))
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(1 << 16)
                if not chunk or len(head) > 64 << 10:
                    raise RuntimeUnavailable("docker", f"GET {path}: not an HTTP answer")
                head += chunk
        except TimeoutError:
            sock.close()
            raise RuntimeUnavailable(
                "docker", f"did not answer GET {path} within {self.timeout:g}s"
            ) from None
        except OSError as exc:
            sock.close()
            raise RuntimeUnavailable("docker", f"GET {path} failed: {exc}") from None
        except BaseException:
            sock.close()
            raise
        header, _, body = bytes(head).partition(b"\r\n\r\n")
        try:
            status = int(header.split(b" ", 2)[1])
        except (IndexError, ValueError):
            sock.close()
            raise RuntimeUnavailable("docker", f"GET {path}: not an HTTP answer") from None
        if status >= 300:
            try:
                while len(body) < 1 << 16:
                    chunk = sock.recv(1 << 16)
                    if not chunk:
                        break
                    body += chunk
            except OSError:
                pass
            finally:
                sock.close()
            text = message(body)
            name = f"{self.container.name} ({self.container.short_id})"
            if status == 404:
                raise ContainerGone(
                    f"Docker no longer knows container {name}.",
                    "List the current ones with 'debugtool ps -a'.",
                )
            if "does not support reading" in text:
                raise NoLog(
                    f"Docker keeps no log of {name} that it can read back: {text}.",
                    "Its log driver sends the output elsewhere ('docker inspect' shows "
                    "HostConfig.LogConfig).",
                )
            raise RuntimeUnavailable("docker", f"GET {path} answered {status}: {text}")
        # The daemon answered: from here the log may take as long as it takes to come.
        sock.settimeout(None if follow else max(self.timeout, 10.0))
        return sock, body


def docker_json_file(container: Container) -> FileLog | None:
    """Return the json-file log of a Docker container whose ``hostconfig.json`` says it uses
    that driver, when the file is there; else None (another driver: ask dockerd)."""
    from debugtool import jsonc
    from debugtool.runtimes.docker import data_root, valid_id

    if not valid_id(container.id):
        return None
    folder = f"{data_root()}/containers/{container.id}"
    try:
        with files.open_regular(f"{folder}/hostconfig.json") as f:
            config = jsonc.loads(f.read(1 << 20))
        driver = config["LogConfig"]["Type"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    path = f"{folder}/{container.id}-json.log"
    if driver != "json-file" or not os.path.isfile(path):
        return None
    return FileLog(path, JsonFileDecoder, f"Docker's json-file {path}")


def docker_file_log(container: Container) -> FileLog | None:
    """Return the json-file log of a Docker container read without dockerd, or None when there
    is none on disk. Raises ``RuntimeUnavailable`` for the ``local`` driver, whose files only
    dockerd reads."""
    from debugtool.runtimes.docker import data_root, valid_id

    if not valid_id(container.id):
        return None
    root = data_root()
    folder = f"{root}/containers/{container.id}"
    recorded = (container.metadata.get("docker") or {}).get("LogPath")
    path = recorded if isinstance(recorded, str) and recorded.startswith(folder + "/") else ""
    path = path or f"{folder}/{container.id}-json.log"
    if os.path.isfile(path):
        return FileLog(path, JsonFileDecoder, f"Docker's json-file {path}")
    if os.path.isdir(f"{folder}/local-logs"):
        raise RuntimeUnavailable(
            "docker",
            f"{container.name} uses the 'local' log driver, whose files "
            f"({folder}/local-logs) only dockerd reads, and dockerd does not answer",
            "Read its logs once dockerd answers again.",
        )
    return None


# --- podman ----------------------------------------------------------------------------------


def podman_log(container: Container, timeout: float) -> Log:
    """Return a podman container's log: its k8s-file, or journald's entries of it."""
    from debugtool.runtimes.podman import PodmanRuntime

    default = f"{container.bundle}/ctr.log" if container.bundle else ""
    if default and os.path.isfile(default):
        return FileLog(default, CriDecoder, f"podman's k8s-file {default}")
    record = PodmanRuntime(timeout).inspect(container)
    config = (record.get("HostConfig") or {}).get("LogConfig") or {}
    driver = str(config.get("Type") or "")
    path = str(config.get("Path") or "")
    name = f"{container.name} ({container.short_id})"
    if driver == "k8s-file" and path:
        return FileLog(path, CriDecoder, f"podman's k8s-file {path}")
    if driver == "journald":
        return JournalLog(container.id)
    raise NoLog(
        f"podman keeps no log of {name} that debugtool can read (log driver "
        f"'{driver or 'unknown'}').",
        "Start it with --log-driver k8s-file or journald to keep one.",
    )


class JournalLog(Log):
    """podman's journald log driver: the container's entries, through ``journalctl``."""

    def __init__(self, container_id: str) -> None:
        self.container_id = container_id
        self.where = f"journald (CONTAINER_ID_FULL={container_id})"

    def read(
        self,
        tail: int | None = None,
        since: int | None = None,
        follow: bool = False,
        alive: Callable[[], bool] | None = None,
    ) -> Generator[list[LogLine], None, None]:
        import select
        import shutil
        import subprocess

        journalctl = shutil.which("journalctl")
        if journalctl is None:
            raise NoLog(
                "podman sends this container's output to journald, and journalctl is not "
                "installed to read it back.",
                "Install systemd's journalctl, or use --log-driver k8s-file.",
            )
        argv = [journalctl, "--no-pager", "-o", "json", f"CONTAINER_ID_FULL={self.container_id}"]
        if tail is not None:
            argv += ["-n", str(tail)]
        if since is not None:
            argv += ["--since", f"@{since // 1_000_000_000}"]
        if follow:
            argv.append("-f")
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert proc.stdout is not None
        decoder = JournalDecoder()
        fd = proc.stdout.fileno()
        try:
            while True:
                if follow and alive is not None:
                    ready, _, _ = select.select([fd], [], [], ALIVE_INTERVAL)
                    if not ready:
                        if not alive():
                            break
                        continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                lines = decoder.feed(chunk)
                if since is not None:  # journalctl's --since has a resolution of seconds
                    lines = [line for line in lines if files.at_or_after(line, since)]
                if lines:
                    yield lines
            last = decoder.end()
            if last:
                yield last
        finally:
            if proc.poll() is None:
                proc.terminate()  # journalctl -f, ours, by its pid
            proc.stdout.close()
            proc.wait()


# --- containerd ------------------------------------------------------------------------------


def containerd_log(container: Container) -> Log:
    """Return a containerd container's log: its CRI log file, or its ``file://`` log URI."""
    record = container.metadata.get("containerd") or {}
    name = f"{container.name} ({container.namespace or 'default'} namespace)"
    path = str(record.get("log_path") or "")
    if path:
        return FileLog(path, CriDecoder, f"the CRI log file {path}")
    stdout = str((record.get("task") or {}).get("stdout") or "")
    if stdout.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        path = unquote(urlsplit(stdout).path)
        return FileLog(path, RawDecoder, f"the task's log URI {stdout}")
    if stdout.startswith("binary://"):
        raise NoLog(
            f"containerd keeps no log of {name}: its output goes to the logging program "
            f"{stdout}, which keeps it wherever it does.",
        )
    if not container.running:
        raise NoLog(
            f"containerd keeps no log of {name}: a task's output is kept only when it was "
            "started with a log URI, and this one has no running task to say where it went.",
        )
    raise NoLog(
        f"containerd keeps no log of {name}: it was started without a log URI (as 'ctr run "
        "-d' does), so its output goes to FIFOs that only its shim reads and nothing is kept.",
        "Start it with 'ctr run --log-uri file:///PATH' to keep a log there.",
    )


# --- runtimes that keep nothing ---------------------------------------------------------------


def stdout_of(pid: int) -> str:
    """Return where a process's stdout goes, in words, from the host's ``/proc/PID/fd/1``.

    Only the link is read: a path there is one the container's process opened, and is named,
    never opened. Raises ``ContainerGone`` when the process has exited.
    """
    try:
        link = os.readlink(procfs.path(pid, "fd/1"))
    except FileNotFoundError:
        try:
            os.stat(procfs.path(pid))
        except OSError:
            raise ContainerGone(f"process {pid} has exited.") from None
        return "nowhere (its file descriptor 1 is closed)"
    except PermissionError:
        from debugtool.errors import PermissionDenied

        raise PermissionDenied(
            f"debugtool may not read /proc/{pid}/fd/1.", need="CAP_SYS_PTRACE"
        ) from None
    except OSError:
        raise ContainerGone(f"process {pid} has exited.") from None
    if link.startswith("pipe:"):
        return f"a pipe ({link}), read by whatever holds its other end"
    if link.startswith("socket:"):
        return f"a socket ({link}), read by whatever is connected to it"
    if link == "/dev/null":
        return "/dev/null, which discards it"
    if link.startswith(("/dev/pts/", "/dev/tty", "/dev/console")):
        return f"the terminal {link}"
    if link.startswith("anon_inode:"):
        return f"an anonymous file ({link})"
    return (
        f"the file {link} (a path as the container's process opened it; debugtool names it "
        "and does not open it)"
    )


def no_log(container: Container) -> NoLog:
    """Return the sentence for a container whose runtime keeps no log (runc, crun, none)."""
    name = f"{container.name} ({container.short_id})"
    if container.runtime == "none":
        head = f"no runtime keeps a log of {name}, a sandbox that no runtime owns"
    else:
        head = f"{container.runtime} keeps no log of {name}"
    if not container.running or not container.pid:
        return NoLog(f"{head}, and it is not running, so where its output went cannot be seen.")
    where = stdout_of(container.pid)
    return NoLog(
        f"{head}: the stdout of its init process (host PID {container.pid}) goes to {where}."
    )


# --- a bundle --------------------------------------------------------------------------------


class BundleLog(Log):
    """The logs a support bundle captured (``CONTAINER/logs.txt``), redacted at capture."""

    where = "the bundle"

    def __init__(self, text: str) -> None:
        self.text = text

    def read(
        self,
        tail: int | None = None,
        since: int | None = None,
        follow: bool = False,
        alive: Callable[[], bool] | None = None,
    ) -> Generator[list[LogLine], None, None]:
        rows = self.text.splitlines()
        lines = [parse_bundle_line(row) for row in rows if not row.startswith("# debugtool ")]
        if since is not None:
            lines = [line for line in lines if files.at_or_after(line, since)]
        if tail is not None:
            lines = lines[-tail:] if tail else []
        if lines:
            yield lines


# --- choosing --------------------------------------------------------------------------------


def open_log(
    source: Source,
    container: Container,
    timeout: float = 2.0,
    warn: Callable[[str], None] | None = None,
) -> Log:
    """Return the log of ``container`` as ``source`` holds it (a bundle's, or the host's).

    Raises ``NoLog`` for a container whose runtime keeps none (with where its output goes),
    ``RuntimeUnavailable`` when it cannot be read, ``ContainerGone``.
    """
    if not source.live:
        bundle = getattr(source, "bundle", None)
        text = bundle.logs(container.id) if bundle is not None else ""
        if not text:
            raise NoLog(
                f"the bundle holds no logs of {container.name} ({container.short_id}).",
                "'debugtool bundle show FILE' says why (each collector's status).",
            )
        return BundleLog(text)
    runtime = container.runtime
    if runtime == "docker":
        from debugtool.runtimes.docker import FROM_STATE_FILES

        if (container.metadata.get("docker") or {}).get("source") == FROM_STATE_FILES:
            log = docker_file_log(container)
            if log is None:
                raise RuntimeUnavailable(
                    "docker",
                    f"does not answer, and {container.name} has no json-file log on disk",
                    "Read its logs once dockerd answers again.",
                )
            if warn is not None:
                warn(f"docker does not answer; reading {log.path} instead.")
            return log
        return DockerLog(container, timeout, warn)
    if runtime == "podman":
        return podman_log(container, timeout)
    if runtime == "containerd":
        return containerd_log(container)
    raise no_log(container)
