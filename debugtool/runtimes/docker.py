"""The Docker backend: containers from the Engine API, PIDs from runc's state files.

``GET /containers/json`` says everything ``docker ps`` shows except the PID. Asking
``/containers/{id}/json`` for each running container would cost one more request per container
(about 1.5 ms each here, so 45 ms for 30 containers); runc's state file for the container holds
the PID in its first few hundred bytes, so reading that is a file open per container. The PID is
trusted only when the process's start time matches the one runc recorded; otherwise (another OCI
runtime, a stale file) the container's own inspect answer gives it.
"""

from __future__ import annotations

import json
import os
import re
import struct
import time
from typing import Any
from urllib.parse import quote

from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError, RuntimeUnavailable
from debugtool.model import Container
from debugtool.runtimes.base import Runtime
from debugtool.runtimes.dockerapi import DockerAPI

OCI_ROOT = "/run/docker/runtime-runc/moby"
POD_LABELS = (
    "io.kubernetes.pod.name",
    "io.kubernetes.pod.namespace",
    "io.kubernetes.container.name",
)
_STATE_HEAD = re.compile(rb'"init_process_pid":(\d+),"init_process_start":(\d+)')


def runc_pid(cid: str, root: str = OCI_ROOT) -> int | None:
    """Return the init PID runc recorded for container ``cid``, if that process still runs.

    Reads only the head of ``state.json`` (the PID and start time come first) and checks the
    start time against ``/proc/PID/stat``, so a PID reused after the container died is refused.
    """
    try:
        with open(f"{root}/{cid}/state.json", "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    match = _STATE_HEAD.search(head)
    if not match:
        return None
    pid, start = int(match[1]), int(match[2])
    try:
        return pid if procfs.start_time(pid) == start else None
    except (DebugtoolError, ValueError):  # gone, or unreadable: let the API answer instead
        return None


def container_from_list(
    item: dict[str, Any], pid: int | None = None, runc: bool = True
) -> Container:
    """Map one record of ``GET /containers/json`` to a Container (``pid`` comes separately).

    ``runc`` says whether runc under Docker's default root runs it; when another OCI runtime
    does (its PID had to come from inspect), the OCI root is left for containerd's record of
    the container to fill in.
    """
    names = item.get("Names") or []
    name = names[0].lstrip("/") if names else item.get("Id", "")[:12]
    labels = dict(item.get("Labels") or {})
    pod, pod_ns, k8s_name = (labels.get(k, "") for k in POD_LABELS)
    created = item.get("Created")
    return Container(
        id=item.get("Id", ""),
        name=name,
        runtime="docker",
        image=item.get("Image", ""),
        status=str(item.get("State") or "unknown"),
        pid=pid or None,
        created=float(created) if created else None,
        labels=labels,
        namespace="moby",
        pod=pod,
        pod_namespace=pod_ns,
        k8s_container=k8s_name,
        oci_root=OCI_ROOT if runc else "",
        oci_runtime="runc" if runc else "",
        metadata={"docker": item},
    )


def demultiplex(data: bytes) -> bytes:
    """Return the payload of a Docker log stream in stdcopy format (stdout and stderr merged).

    Each frame is an 8-byte header (stream, 3 zero bytes, big-endian length) and its payload.
    A truncated last frame keeps what arrived.
    """
    out = bytearray()
    pos = 0
    while pos + 8 <= len(data):
        (size,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        out += data[pos + 8 : pos + 8 + size]
        pos += 8 + size
    return bytes(out)


class DockerRuntime(Runtime):
    """Docker Engine containers (the daemon at ``DOCKER_HOST`` or /var/run/docker.sock)."""

    name = "docker"
    richness = 100
    supports_logs = True

    def api(self) -> DockerAPI:
        return DockerAPI(timeout=self.timeout, name=self.name)

    def present(self) -> bool:
        # A DOCKER_HOST the user set is Docker asked for: if its socket is missing, say so.
        return bool(os.environ.get("DOCKER_HOST")) or self.api().present()

    def list(self, all: bool = False) -> list[Container]:
        """Return Docker's containers. Raises ``RuntimeUnavailable`` within ``timeout``."""
        api = self.api()
        deadline = time.monotonic() + self.timeout
        items = api.get_json("/containers/json", {"all": "1" if all else "0"})
        if not isinstance(items, list):
            raise RuntimeUnavailable(self.name, "GET /containers/json did not answer a list")
        found = []
        for item in items:
            if not isinstance(item, dict):
                continue
            pid = None
            runc = True
            if item.get("State") in ("running", "paused", "restarting"):
                pid = runc_pid(item.get("Id", ""))
                if pid is None:
                    runc = False
                    pid = self._inspect_pid(api, item.get("Id", ""), deadline)
            found.append(container_from_list(item, pid, runc))
        return found

    def _inspect_pid(self, api: DockerAPI, cid: str, deadline: float) -> int | None:
        """Return a container's PID from its inspect answer, while time is left (else None)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None  # the list itself must come back within the timeout
        try:
            answer = api.get_json(f"/containers/{quote(cid)}/json", timeout=remaining)
        except RuntimeUnavailable:
            return None  # it went away between the two requests (normal churn), or Docker hangs
        state = (answer.get("State") or {}) if isinstance(answer, dict) else {}
        return int(state.get("Pid") or 0) or None

    def inspect(self, container: Container) -> dict:
        """Return ``GET /containers/{id}/json``.

        Raises ``ContainerGone`` when Docker no longer knows it, ``RuntimeUnavailable`` otherwise.
        """
        status, data = self.api().request("GET", f"/containers/{quote(container.id)}/json")
        if status == 404:
            raise ContainerGone(
                f"Docker no longer knows container {container.name} ({container.short_id}).",
                "List the current ones with 'debugtool ps -a'.",
            )
        if status >= 300:
            raise RuntimeUnavailable(self.name, f"inspect answered {status}: {data[:200]!r}")
        return json.loads(data)

    def logs(
        self, container: Container, tail: int | None = None, since: float | None = None
    ) -> bytes:
        """Return the container's stdout and stderr with timestamps, oldest first.

        Raises ``ContainerGone`` or ``RuntimeUnavailable``.
        """
        tty = bool((self.inspect(container).get("Config") or {}).get("Tty"))
        query: dict[str, Any] = {"stdout": "1", "stderr": "1", "timestamps": "1"}
        query["tail"] = str(tail) if tail is not None else "all"
        if since is not None:
            query["since"] = f"{since:.9f}"
        status, data = self.api().request("GET", f"/containers/{quote(container.id)}/logs", query)
        if status == 404:
            raise ContainerGone(f"Docker no longer knows container {container.name}.")
        if status >= 300:
            raise RuntimeUnavailable(self.name, f"logs answered {status}: {data[:200]!r}")
        # With a TTY the stream is raw; without one each chunk carries an 8-byte header.
        return data if tty else demultiplex(data)
