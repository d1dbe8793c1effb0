"""Published ports as each runtime records them, read into ``model.Port``.

Every runtime says "container port 8099/tcp is published on 127.0.0.1:18099" its own way:

- Docker's list answer (``GET /containers/json``): ``Ports: [{"IP", "PrivatePort",
  "PublicPort", "Type"}]``, a port only exposed having no ``PublicPort``;
- Docker's and podman's inspect: ``NetworkSettings.Ports: {"8099/tcp": [{"HostIp",
  "HostPort"}]}`` (``null`` for a port only exposed);
- podman's ``ps --format json`` and libpod's container config (``newPortMappings``, podman 4;
  ``portMappings`` in podman 3's ocicni form): ``{"host_ip", "container_port", "host_port",
  "range", "protocol"}``, ``protocol`` possibly ``"tcp,udp"``;
- nerdctl's label ``nerdctl/ports`` on a containerd container: ``[{"HostPort",
  "ContainerPort", "Protocol", "HostIP"}]``;
- a CRI sandbox's ``PodSandboxConfig.port_mappings`` (the CNI portmap plugin's input), kept in
  containerd's ``io.cri-containerd.sandbox.metadata`` extension.

Each reader takes whatever the runtime (or whoever created the container) put there and returns
only well-formed ports: a value of the wrong type is left out, never guessed at.
"""

from __future__ import annotations

from debugtool.model import Port

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Most ports one record may publish (a range ``-p 1000-1999:1000-1999`` is a thousand).
MAX_PORTS = 4096
_PROTOCOLS = ("tcp", "udp", "sctp")
#: CRI's Protocol enum (k8s.io/cri-api runtime/v1: TCP = 0, UDP = 1, SCTP = 2).
_CRI_PROTOCOLS = {0: "tcp", 1: "udp", 2: "sctp"}


def _port(value: Any) -> int | None:
    """Return a port number from an int or a decimal text, or None if it is not one."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 5:
        value = int(value)
    if type(value) is int and 0 < value < 65536:
        return value
    return None


def _protocol(value: Any, default: str = "tcp") -> str | None:
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.lower() in _PROTOCOLS:
        return value.lower()
    return None


def _ip(value: Any) -> str | None:
    """Return a host address as text ("" for none), or None when it is not text."""
    if value is None:
        return ""
    if isinstance(value, str) and len(value) <= 64 and value.isprintable():
        return value
    return None


def _make(container_port: Any, protocol: Any, host_ip: Any, host_port: Any) -> Port | None:
    cport, hport = _port(container_port), _port(host_port)
    proto, ip = _protocol(protocol), _ip(host_ip)
    if cport is None or hport is None or proto is None or ip is None:
        return None
    return Port(container_port=cport, protocol=proto, host_ip=ip, host_port=hport)


def _sorted(ports: list[Port]) -> list[Port]:
    """Return ports in one order (container port, protocol, host address), without repeats."""
    seen: dict[tuple[int, str, str, int], Port] = {}
    for p in ports:
        seen.setdefault((p.container_port, p.protocol, p.host_ip, p.host_port), p)
    return [seen[key] for key in sorted(seen)][:MAX_PORTS]


def from_docker_list(value: Any) -> list[Port]:
    """Return the published ports of one record of Docker's ``GET /containers/json``
    (its ``Ports``); a port only exposed (no ``PublicPort``) is not published."""
    if not isinstance(value, list):
        return []
    found = []
    for item in value[:MAX_PORTS]:
        if isinstance(item, dict) and item.get("PublicPort"):
            port = _make(
                item.get("PrivatePort"), item.get("Type"), item.get("IP"), item["PublicPort"]
            )
            if port is not None:
                found.append(port)
    return _sorted(found)


def from_inspect(value: Any) -> list[Port]:
    """Return the published ports of Docker's or podman's ``NetworkSettings.Ports``
    (``{"8099/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18099"}]}``)."""
    if not isinstance(value, dict):
        return []
    found = []
    for key, bindings in list(value.items())[:MAX_PORTS]:
        if not isinstance(key, str) or not isinstance(bindings, list):
            continue  # null: exposed, not published
        number, _, protocol = key.partition("/")
        for item in bindings[:MAX_PORTS]:
            if isinstance(item, dict):
                port = _make(number, protocol, item.get("HostIp"), item.get("HostPort"))
                if port is not None:
                    found.append(port)
    return _sorted(found)


def from_podman(value: Any) -> list[Port]:
    """Return the ports of podman's ``ps --format json`` ``Ports`` or libpod's
    ``newPortMappings`` (``portMappings`` of podman 3, in ocicni's spelling, is read too).

    A mapping with ``range`` N publishes N consecutive ports; ``protocol`` may name several
    (``"tcp,udp"``).
    """
    if not isinstance(value, list):
        return []
    found: list[Port] = []
    for item in value[:MAX_PORTS]:
        if not isinstance(item, dict):
            continue
        cport = _port(item.get("container_port", item.get("containerPort")))
        hport = _port(item.get("host_port", item.get("hostPort")))
        ip = _ip(item.get("host_ip", item.get("hostIP")))
        span = item.get("range", 1)
        if cport is None or hport is None or ip is None or type(span) is not int:
            continue
        span = max(1, min(span, MAX_PORTS, 65536 - max(cport, hport)))
        protocols = item.get("protocol") or "tcp"
        if not isinstance(protocols, str):
            continue
        for name in protocols.split(","):
            protocol = _protocol(name.strip())
            if protocol is None:
                continue
            found += [
                Port(container_port=cport + n, protocol=protocol, host_ip=ip, host_port=hport + n)
                for n in range(span)
            ]
            if len(found) >= MAX_PORTS:
                return _sorted(found)
    return _sorted(found)


def from_nerdctl(label: str) -> list[Port]:
    """Return the ports of nerdctl's ``nerdctl/ports`` label (JSON), [] when it is not that."""
    from debugtool import jsonc

    try:
        value = jsonc.loads(label)
    except (ValueError, RecursionError):
        return []
    if not isinstance(value, list):
        return []
    found = []
    for item in value[:MAX_PORTS]:
        if isinstance(item, dict):
            port = _make(
                item.get("ContainerPort"),
                item.get("Protocol"),
                item.get("HostIP"),
                item.get("HostPort"),
            )
            if port is not None:
                found.append(port)
    return _sorted(found)


def from_cri_sandbox(metadata: Any) -> list[Port]:
    """Return the ports of a CRI sandbox from containerd's ``io.cri-containerd.sandbox.metadata``
    extension (decoded JSON: ``Metadata.Config.port_mappings``).

    CRI writes the protocol as its enum number, and leaves out zero values (TCP, no host IP).
    """
    if not isinstance(metadata, dict):
        return []
    inner = metadata.get("Metadata")
    config = inner.get("Config") if isinstance(inner, dict) else None
    mappings = config.get("port_mappings") if isinstance(config, dict) else None
    if not isinstance(mappings, list):
        return []
    found = []
    for item in mappings[:MAX_PORTS]:
        if not isinstance(item, dict):
            continue
        protocol = item.get("protocol", 0)
        name = _CRI_PROTOCOLS.get(protocol) if type(protocol) is int else _protocol(protocol)
        if name is None:
            continue
        port = _make(item.get("container_port"), name, item.get("host_ip"), item.get("host_port"))
        if port is not None:
            found.append(port)
    return _sorted(found)
