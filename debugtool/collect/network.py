"""The network collector: a container's interfaces, routes, sockets (with their processes) and DNS.

Everything is read from the host. Interfaces, addresses, routes and TCP/UDP/UNIX sockets come from
netlink sockets created inside the container's network namespace (the thread leaves it at once;
the sockets stay bound to it). Where a sock_diag dump is missing from the kernel, the socket
tables are parsed from ``/proc/PID/net/*`` instead, which shows the same namespace. Raw sockets
always come from ``/proc/PID/net/raw{,6}``: that table is small and cheap to read, and raw_diag is
often not built into the kernel (asking for it makes the kernel try to load a module each time).

Socket owners are found by scanning ``/proc/*/fd`` of the processes in the same network
namespace, as ``ss -p`` does; a process that exits mid-scan is skipped. The container's
published ports come from its runtime's record, with who listens for each on the host
(``collect.ports``).
"""

from __future__ import annotations

import _socket as socket  # the socket module's C core: the same names, without its enums (~4 ms)
import os
import struct

from debugtool import netlink as nl
from debugtool import procfs
from debugtool.errors import ContainerGone, DebugtoolError
from debugtool.snapshot import Address, DNSConfig, Interface, Network, Route, Socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from debugtool.target import Target

#: Protocols in the order people read them (and ``ss`` prints them).
PROTOCOL_ORDER = {"tcp": 0, "tcp6": 1, "udp": 2, "udp6": 3, "raw": 4, "raw6": 5, "unix": 6}
DNS_FILE_LIMIT = 64 * 1024

# --- /proc/PID/net/* text ---------------------------------------------------------------------


def _proc_ip(hexaddr: str) -> tuple[int, bytes]:
    """Decode an address of /proc/net/{tcp,udp,raw}[6]: 32-bit words in host byte order."""
    words = [int(hexaddr[i : i + 8], 16) for i in range(0, len(hexaddr), 8)]
    raw = struct.pack(f"={len(words)}I", *words)
    return (socket.AF_INET if len(words) == 1 else socket.AF_INET6), raw


def _endpoint(text: str) -> tuple[str, int]:
    addr, _, port = text.partition(":")
    family, raw = _proc_ip(addr)
    return nl.format_ip(family, raw), int(port, 16)


def parse_proc_inet(text: str, protocol: str) -> list[Socket]:
    """Parse ``/proc/PID/net/{tcp,tcp6,udp,udp6,raw,raw6}``; ``protocol`` names the file.

    For raw sockets the "port" is the IP protocol number (1 for ICMP), as ``ss`` shows it.
    Malformed lines are skipped.
    """
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            local, local_port = _endpoint(fields[1])
            remote, remote_port = _endpoint(fields[2])
            tx_queue, _, rx_queue = fields[4].partition(":")
            sockets.append(
                Socket(
                    protocol=protocol,
                    state=nl.inet_state(protocol, int(fields[3], 16)),
                    local_address=local,
                    local_port=local_port,
                    remote_address=remote,
                    remote_port=remote_port,
                    inode=int(fields[9]),
                    uid=int(fields[7]),
                    rx_queue=int(rx_queue, 16),
                    tx_queue=int(tx_queue, 16),
                )
            )
        except ValueError:
            continue
    return sockets


#: SS_* states of /proc/net/unix's "St" column (include/uapi/linux/net.h).
_UNIX_PROC_STATES = {1: "UNCONN", 2: "SYN_SENT", 3: "ESTABLISHED", 4: "CLOSING"}
_SO_ACCEPTCON = 0x10000  # the Flags column of a listening socket


def parse_proc_unix(text: str) -> list[Socket]:
    """Parse ``/proc/PID/net/unix``.

    The path is everything after the inode, so it may hold spaces; the kernel writes an abstract
    name with a leading ``@`` (and every NUL in it as ``@``), as ``ss`` shows it. Malformed
    lines are skipped.
    """
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split(None, 7)
        if len(fields) < 7:
            continue
        try:
            flags = int(fields[3], 16)
            stype = int(fields[4], 16)
            st = int(fields[5], 16)
            inode = int(fields[6])
        except ValueError:
            continue
        state = "LISTEN" if flags & _SO_ACCEPTCON else _UNIX_PROC_STATES.get(st, str(st))
        sockets.append(
            Socket(
                protocol="unix",
                state=state,
                path=fields[7] if len(fields) > 7 else "",
                inode=inode,
                socket_type=nl.UNIX_TYPES.get(stype, str(stype)),
            )
        )
    return sockets


#: Column names of /proc/net/dev after the interface name, receive then transmit.
_DEV_COLUMNS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", None, None, None, None,
                "tx_bytes", "tx_packets", "tx_errors", "tx_dropped")  # fmt: skip


def parse_proc_dev(text: str) -> list[Interface]:
    """Parse ``/proc/PID/net/dev`` into interfaces with names and counters only.

    Interface names cannot hold ``:`` or spaces, so the first ``:`` ends the name.
    """
    interfaces = []
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        values = rest.split()
        if not sep or len(values) < 12:
            continue
        iface = Interface(name=name.strip())
        for column, value in zip(_DEV_COLUMNS, values, strict=False):
            if column:
                setattr(iface, column, int(value))
        interfaces.append(iface)
    return interfaces


def parse_resolv_conf(text: str) -> DNSConfig:
    """Parse ``resolv.conf``: nameservers, search domains (``domain`` counts as one), options.

    As the resolver does, the last ``search`` or ``domain`` line wins and comments start with
    ``#`` or ``;``.
    """
    dns = DNSConfig(resolv_conf=text)
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        key, args = words[0], words[1:]
        if key == "nameserver" and args:
            dns.nameservers.append(args[0])
        elif key in ("search", "domain"):
            dns.search = args
        elif key == "options":
            dns.options.extend(args)
    return dns


# --- netlink records -> model -------------------------------------------------------------------


def interfaces_from_netlink(
    links: list[nl.Link], addresses: list[nl.AddressRecord]
) -> list[Interface]:
    """Join links and their addresses into ``Interface`` records, in index order."""
    by_index: dict[int, Interface] = {}
    for link in sorted(links, key=lambda x: x.index):
        iface = Interface(
            name=link.name,
            index=link.index,
            state=link.operstate,
            mtu=link.mtu,
            mac=link.mac,
            kind=link.kind,
        )
        for key, value in link.stats.items():
            setattr(iface, key, value)
        by_index[link.index] = iface
    for a in addresses:
        owner = by_index.get(a.index)
        if owner is not None:
            owner.addresses.append(Address(a.family, a.address, a.prefixlen, a.scope))
    return list(by_index.values())


def routes_from_netlink(records: list[nl.RouteRecord], names: dict[int, str]) -> list[Route]:
    """Return ``Route`` records with interface names in place of indexes."""
    return [
        Route(
            family=r.family,
            destination=r.destination,
            gateway=r.gateway,
            interface=names.get(r.oif, str(r.oif) if r.oif else ""),
            metric=r.metric,
            table=r.table,
            protocol=r.protocol,
            scope=r.scope,
            type=r.type,
            prefsrc=r.prefsrc,
        )
        for r in records
    ]


# --- socket owners ------------------------------------------------------------------------------


_FD_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _process_sockets(pid: int) -> list[int]:
    """Return the socket inodes process ``pid`` holds; empty if it exited or hides its fds.

    One ``readlink`` an fd, relative to the open fd directory: with ten thousand sockets this is
    most of the collector's time, nearly all of it in the kernel. A socket's link reads
    ``socket:[INODE]``; anything else is another kind of file.
    """
    try:
        dirfd = os.open(f"{procfs.PROC}/{pid}/fd", _FD_DIR_FLAGS)
    except OSError:
        return []
    inodes: list[int] = []
    append = inodes.append
    readlink = os.readlink
    try:
        for name in os.listdir(dirfd):
            try:
                link = readlink(name, dir_fd=dirfd)
            except OSError:
                continue  # closed since it was listed
            if link.startswith("socket:["):
                try:
                    append(int(link[8:-1]))
                except ValueError:
                    continue  # not the kernel's form
    except OSError:
        return []
    finally:
        os.close(dirfd)
    return inodes


#: Who holds a socket: (host PID, PID in the container or None, process name).
Holder = tuple[int, int | None, str]


def socket_owners(
    netns: int, pidns: int | None, holder: int | None = None
) -> dict[int, tuple[Holder, ...]]:
    """Map socket inodes to their holders in network namespace ``netns`` (an inode).

    Each holder is ``(host pid, pid in the container or None, name)``, once per process however
    many of its fds hold the socket; the PID in the container is the one PID namespace ``pidns``
    gives the holder, as ``top`` names it (``procfs.pids_inside``, asked through ``holder``, a
    process of that namespace), None for a holder outside it. Processes that exit during the
    scan are skipped.
    """
    owners: dict[int, tuple[Holder, ...]] = {}
    holding: dict[int, list[int]] = {}
    for pid in procfs.members(netns, "net"):
        inodes = _process_sockets(pid)
        if inodes:
            holding[pid] = inodes
    inside = procfs.pids_inside(holder, pidns, holding) if pidns is not None else {}
    for pid, inodes in holding.items():
        try:
            status = procfs.read_text(pid, "status")
        except DebugtoolError:
            continue  # exited since its fds were read
        nspid = inside.get(pid)
        if nspid is None and pid in inside:
            chain = procfs.nspid(status)
            nspid = chain[-1] if chain else None
        name = procfs.status_field(status, "Name")
        # One tuple for all of this process's sockets: most sockets have a single holder.
        alone = ((pid, nspid, name),)
        for inode in inodes:
            held = owners.get(inode)
            if held is None:
                owners[inode] = alone
            elif held[-1][0] != pid:  # not a second fd of this process
                owners[inode] = held + alone
    return owners


def attribute(sockets: list[Socket], owners: Mapping[int, Sequence[Holder]]) -> None:
    """Fill each socket's ``pids``, ``nspids`` and ``process`` from ``owners``; with several
    holders, in PID order and named after the first."""
    for sock in sockets:
        holders = owners.get(sock.inode) if sock.inode else None
        if not holders:
            continue
        if len(holders) == 1:
            pid, nspid, name = holders[0]
            sock.pids = [pid]
            sock.nspids = [] if nspid is None else [nspid]
            sock.process = name
            continue
        holders = sorted(set(holders))
        sock.pids = [h[0] for h in holders]
        sock.nspids = [h[1] for h in holders if h[1] is not None]
        sock.process = holders[0][2]


def sort_key(sock: Socket) -> tuple[int, bool, int, str, int]:
    """Order sockets by protocol, listening first, then local port and path (``ss -l`` first)."""
    return (
        PROTOCOL_ORDER.get(sock.protocol, 99),
        sock.remote_port != 0 or sock.state not in ("LISTEN", "UNCONN"),  # not Socket.listening
        sock.local_port,
        sock.path,
        sock.inode,
    )


# --- the collector ------------------------------------------------------------------------------


def _gone(target: Target) -> ContainerGone:
    return ContainerGone(
        f"container {target.container.name} ({target.container.short_id}) exited while its "
        "network was being read.",
        "Check its status with 'debugtool ps -a'.",
    )


def _proc_net(target: Target, name: str) -> str:
    try:
        return procfs.read_text(target.pid, f"net/{name}")
    except procfs.ProcessGone:
        raise _gone(target) from None


def _inet_sockets(
    target: Target, diag: nl.NetlinkSocket | None, warnings: list[str]
) -> list[Socket]:
    sockets: list[Socket] = []
    for family, suffix in ((socket.AF_INET, ""), (socket.AF_INET6, "6")):
        for proto, base in ((socket.IPPROTO_TCP, "tcp"), (socket.IPPROTO_UDP, "udp")):
            name = base + suffix
            if diag is not None:
                try:
                    reply = diag.dump(nl.SOCK_DIAG_BY_FAMILY, nl.inet_request(family, proto))
                    sockets.extend(nl.parse_inet_diag(reply, name))
                    continue
                except nl.NetlinkError as exc:
                    if not nl.is_unsupported(exc):
                        warnings.append(f"sock_diag for {name} failed ({exc}); read /proc instead.")
            sockets.extend(parse_proc_inet(_proc_net(target, name), name))
        raw = "raw" + suffix
        sockets.extend(parse_proc_inet(_proc_net(target, raw), raw))
    return sockets


def _unix_sockets(
    target: Target, diag: nl.NetlinkSocket | None, warnings: list[str]
) -> list[Socket]:
    if diag is not None:
        try:
            reply = diag.dump(nl.SOCK_DIAG_BY_FAMILY, nl.unix_request())
            return nl.parse_unix_diag(reply)
        except nl.NetlinkError as exc:
            if not nl.is_unsupported(exc):
                warnings.append(f"unix_diag failed ({exc}); read /proc instead.")
    return parse_proc_unix(_proc_net(target, "unix"))


def _open_sockets(target: Target) -> tuple[nl.NetlinkSocket | None, nl.NetlinkSocket | None]:
    """Make the rtnetlink and sock_diag sockets inside the target's network namespace.

    Either is None when this kernel refuses that netlink protocol; /proc then has the same
    tables (without addresses and routes). Raises ``ContainerGone`` or ``PermissionDenied`` when
    the namespace cannot be entered.
    """
    from debugtool.nsjoin import Namespace

    sockets: list[nl.NetlinkSocket | None] = []
    try:
        with Namespace(target.pid, "net"):
            for protocol in (nl.NETLINK_ROUTE, nl.NETLINK_SOCK_DIAG):
                try:
                    sockets.append(nl.NetlinkSocket(protocol))
                except nl.NetlinkError:
                    sockets.append(None)
    except BaseException:
        for sock in sockets:
            if sock is not None:
                sock.close()
        raise
    return sockets[0], sockets[1]


def host_peers(route: nl.NetlinkSocket, links: list[nl.Link]) -> dict[int, str]:
    """Return ``{index: name}`` of the links whose peer (the other end of a veth) lives in this
    thread's own network namespace, named as this namespace names it.

    The container numbers the namespace of each peer (IFLA_LINK_NETNSID); RTM_GETNSID asks it
    which number it gave ours. Any failure just leaves the peers unnamed.
    """
    wanted = [link for link in links if link.link and link.link_netnsid is not None]
    if not wanted:
        return {}
    try:
        own = os.open(procfs.path("thread-self", "ns", "net"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        nsid = nl.parse_nsid(route.request(nl.RTM_GETNSID, nl.nsid_request(own)))
    except nl.NetlinkError:
        return {}
    finally:
        os.close(own)
    peers = {}
    for link in wanted:
        if nsid is not None and link.link_netnsid == nsid:
            try:
                peers[link.index] = socket.if_indextoname(link.link)
            except OSError:
                continue  # removed since
    return peers


def read_links(target: Target, route: nl.NetlinkSocket | None, network: Network) -> None:
    """Fill ``network``'s interfaces (with addresses) and routes from rtnetlink.

    Without rtnetlink, interfaces and their counters come from ``/proc/PID/net/dev`` and a
    warning says what is missing.
    """
    if route is not None:
        try:
            links = nl.parse_links(route.dump(nl.RTM_GETLINK, nl.link_request()))
            addresses = nl.parse_addresses(route.dump(nl.RTM_GETADDR, nl.addr_request()))
            network.interfaces = interfaces_from_netlink(links, addresses)
            peers = host_peers(route, links)
            for iface in network.interfaces:
                iface.peer = peers.get(iface.index, "")
            names = {i.index: i.name for i in network.interfaces}
            records = nl.parse_routes(route.dump(nl.RTM_GETROUTE, nl.route_request()))
            network.routes = routes_from_netlink(records, names)
            return
        except nl.NetlinkError as exc:
            reason = str(exc)
    else:
        reason = "rtnetlink is not available"
    network.warnings.append(f"{reason.rstrip('.')}: interfaces without addresses, no routes.")
    network.interfaces = parse_proc_dev(_proc_net(target, "dev"))


def read_sockets(
    target: Target, diag: nl.NetlinkSocket | None, warnings: list[str]
) -> list[Socket]:
    """Return the TCP, UDP, raw and UNIX sockets of the target's network namespace, unowned.

    sock_diag answers where it can (``diag``); ``/proc/PID/net/*`` fills in the rest.
    """
    sockets = _inet_sockets(target, diag, warnings)
    sockets.extend(_unix_sockets(target, diag, warnings))
    return sockets


def read_dns(root: str, warnings: list[str]) -> DNSConfig:
    """Return the container's resolver config and hosts file, read inside its root.

    A missing or unreadable file is a warning, not an error (distroless images often have none).
    """
    from debugtool import rootfs

    dns = DNSConfig()
    try:
        text = rootfs.read_file(root, "/etc/resolv.conf", DNS_FILE_LIMIT)
        dns = parse_resolv_conf(text.decode("utf-8", "replace"))
    except rootfs.RootfsError as exc:
        warnings.append(f"no resolver config: {exc.message}")
    try:
        dns.hosts = rootfs.read_file(root, "/etc/hosts", DNS_FILE_LIMIT).decode("utf-8", "replace")
    except rootfs.RootfsError as exc:
        warnings.append(f"no hosts file: {exc.message}")
    return dns


def collect_network(target: Target) -> Network:
    """Return the network state of ``target``'s network namespace.

    Raises ``ContainerGone`` when the container exits before or while it is read, and
    ``PermissionDenied`` when its namespace may not be entered. Parts that cannot be read are
    listed in ``Network.warnings``.
    """
    target.check()
    network = Network()
    warnings = network.warnings
    netns = target.namespaces.get("net")
    if netns is None:
        try:
            netns = procfs.namespace_inode(target.pid, "net")
        except DebugtoolError:
            raise _gone(target) from None
    route, diag = _open_sockets(target)
    try:
        read_links(target, route, network)
        sockets = read_sockets(target, diag, warnings)
    finally:
        for sock in (route, diag):
            if sock is not None:
                sock.close()
    attribute(sockets, socket_owners(netns, target.namespaces.get("pid"), target.pid))
    sockets.sort(key=sort_key)
    network.sockets = sockets
    network.dns = read_dns(target.root, warnings)
    if target.container.ports:
        from debugtool.collect.ports import find_listeners

        network.ports = find_listeners(target.container.ports)
    target.check()
    return network
