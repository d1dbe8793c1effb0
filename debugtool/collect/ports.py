"""Who answers a container's published ports on the host: a listening process, or a NAT rule alone.

Docker publishes ``-p 127.0.0.1:18099:8099`` twice over: a DNAT rule in the host's netfilter
tables, and (with its default ``userland-proxy``) a ``docker-proxy`` process listening on
127.0.0.1:18099 for the traffic the rule does not see (from the host itself). podman's conmon
holds the port open to reserve it; rootless runtimes forward it from ``rootlessport`` or
``slirp4netns``. With ``userland-proxy: false`` (or nerdctl, or a CNI portmap plugin) only the
NAT rule is there. So for each published port this reads the host's own socket tables
(``/proc/1/net/{tcp,tcp6,udp,udp6}``: PID 1's network namespace is the host's) for a socket
listening on the port, and names the host process holding it by scanning ``/proc/PID/fd`` of
the processes in that namespace (as ``ss -p`` does), stopping once every socket is found.
Nothing is run and nothing is asked of netfilter: no listener is reported as ``nat``.
"""

from __future__ import annotations

from debugtool import procfs
from debugtool.collect.network import _process_sockets, parse_proc_inet
from debugtool.errors import DebugtoolError
from debugtool.model import Port
from debugtool.record import replace
from debugtool.snapshot import Socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_WILDCARDS = ("", "0.0.0.0", "::")
#: The socket tables to read for a published port's protocol.
_TABLES = {"tcp": ("tcp", "tcp6"), "udp": ("udp", "udp6")}


def _host_pid() -> int | str:
    """Return the process whose network namespace is the host's: PID 1, else this one."""
    try:
        procfs.namespace_inode(1, "net")
        return 1
    except DebugtoolError:
        return "self"


def host_sockets(protocols: Iterable[str], pid: int | str | None = None) -> list[Socket]:
    """Return the listening (TCP) and unconnected (UDP) sockets of the host's network
    namespace for ``protocols`` (``tcp``, ``udp``). A table that cannot be read is skipped."""
    pid = _host_pid() if pid is None else pid
    found: list[Socket] = []
    for protocol in dict.fromkeys(protocols):
        for table in _TABLES.get(protocol, ()):
            try:
                text = procfs.read_text(pid, f"net/{table}")
            except DebugtoolError:
                continue
            found += [s for s in parse_proc_inet(text, table) if s.listening]
    return found


def listening_on(port: Port, sockets: Iterable[Socket]) -> list[Socket]:
    """Return the sockets among ``sockets`` that receive what is sent to ``port``'s host side:
    bound to its host address, else to the wildcard of its family (an IPv6 wildcard socket
    takes IPv4 too), on its host port, of its protocol."""
    candidates = [
        s
        for s in sockets
        if s.local_port == port.host_port and s.protocol.rstrip("6") == port.protocol
    ]
    ip = port.host_ip
    if ip == "":
        tiers: tuple[tuple[str, ...], ...] = (("0.0.0.0", "::"),)
    elif ip == "::" or (":" in ip and ip not in _WILDCARDS):
        tiers = ((ip,), ("::",))
    else:  # 0.0.0.0 or an IPv4 address
        tiers = ((ip,), ("0.0.0.0",), ("::",))
    for addresses in tiers:
        found = [s for s in candidates if s.local_address in addresses]
        if found:
            return found
    return []


def holders(inodes: set[int], netns: int) -> dict[int, list[int]]:
    """Return ``{socket inode: [host PIDs]}`` for ``inodes``, among the processes of network
    namespace ``netns``; the scan stops once every inode has a holder."""
    found: dict[int, list[int]] = {}
    if not inodes:
        return found
    for pid in procfs.members(netns, "net"):
        held = inodes.intersection(_process_sockets(pid))
        for inode in held:
            found.setdefault(inode, []).append(pid)
        if held and len(found) == len(inodes):
            break
    return found


def find_listeners(ports: list[Port]) -> list[Port]:
    """Return ``ports`` with who answers each on the host filled in (``Port.listener``,
    ``host_pids``, ``host_process``). Ports of protocols without a socket table (sctp) and
    every port when the host's tables cannot be read stay unknown (``listener`` "")."""
    if not ports:
        return []
    pid = _host_pid()
    try:
        netns = procfs.namespace_inode(pid, "net")
    except DebugtoolError:
        return [replace(p) for p in ports]
    sockets = host_sockets((p.protocol for p in ports), pid)
    matches = [listening_on(p, sockets) for p in ports]
    owners = holders({s.inode for found in matches for s in found if s.inode}, netns)
    names: dict[int, str] = {}
    out = []
    for port, found in zip(ports, matches, strict=True):
        if port.protocol not in _TABLES:
            out.append(replace(port))
            continue
        pids = sorted({p for s in found for p in owners.get(s.inode, ())})
        if not found:
            out.append(replace(port, listener="nat", host_pids=[], host_process=""))
            continue
        if pids and pids[0] not in names:
            try:
                names[pids[0]] = procfs.comm(pids[0])
            except DebugtoolError:
                names[pids[0]] = ""
        out.append(
            replace(
                port,
                listener="process",
                host_pids=pids,
                host_process=names.get(pids[0], "") if pids else "",
            )
        )
    return out
