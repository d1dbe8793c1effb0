"""A small netlink client: rtnetlink dumps (links, addresses, routes) and sock_diag dumps.

It speaks just enough of the protocol for inspection, with the ``socket`` module only (pyroute2
costs 120-180 ms to import). Parsers take the raw bytes of a dump reply, so they are tested on
captured replies; ``NetlinkSocket`` sends the requests. A socket made inside a network namespace
keeps answering for that namespace after the thread leaves it (see ``debugtool.nsjoin``).

Layouts follow the kernel's uapi headers: ``linux/netlink.h``, ``linux/rtnetlink.h``,
``linux/if_link.h``, ``linux/if_addr.h``, ``linux/inet_diag.h``, ``linux/unix_diag.h``.
"""

from __future__ import annotations

import _socket as socket  # the socket module's C core: the same names, without its enums (~4 ms)
import errno
import os
import struct

from debugtool.errors import DebugtoolError
from debugtool.snapshot import Socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

NETLINK_ROUTE = 0
NETLINK_SOCK_DIAG = 4

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 2
NLMSG_DONE = 3

RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_GETROUTE = 26
RTM_NEWNSID = 88
RTM_GETNSID = 90
SOCK_DIAG_BY_FAMILY = 20

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_NLATTR = struct.Struct("=HH")  # len, type
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTGENMSG = struct.Struct("=Bxxx")  # family, padded to NLMSG_ALIGNTO
# rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTMSG = struct.Struct("=BBBBBBBBI")
# A whole inet_diag reply message: the nlmsghdr, then inet_diag_msg (family, state, timer,
# retrans; sockid: sport, dport big-endian, src[16], dst[16], if, cookie[2]; expires, rqueue,
# wqueue, uid, inode), unpacked at once with only what a Socket shows: length, type; family,
# state; sport, dport; src, dst; rqueue, wqueue, uid, inode.
_INET_DIAG_REPLY = struct.Struct("=IH10xBB2x2H16s16s16x4I")
_UNIX_DIAG_MSG = struct.Struct("=BBBxII")  # family, type, state, ino, cookie[0]; cookie[1] follows
_UNIX_DIAG_MSG_SIZE = 16

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_STATS64 = 23
IFLA_LINK_NETNSID = 37
IFLA_INFO_KIND = 1

IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3

NETNSA_NSID = 1
NETNSA_FD = 3

RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_PREFSRC = 7
RTA_TABLE = 15
RTA_VIA = 18
RTM_F_CLONED = 0x200

UNIX_DIAG_NAME = 0
UNIX_DIAG_PEER = 2
UNIX_DIAG_RQLEN = 4
UNIX_DIAG_UID = 7
UDIAG_SHOW_NAME = 0x01
UDIAG_SHOW_PEER = 0x04
UDIAG_SHOW_RQLEN = 0x10
UDIAG_SHOW_UID = 0x40

IFF_UP = 0x1
IFF_LOOPBACK = 0x8

OPERSTATES = {0: "UNKNOWN", 1: "NOTPRESENT", 2: "DOWN", 3: "LOWERLAYERDOWN", 4: "TESTING",
              5: "DORMANT", 6: "UP"}  # fmt: skip
RT_TABLES = {0: "unspec", 253: "default", 254: "main", 255: "local"}
RT_PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 16: "dhcp",
                186: "bgp", 187: "isis", 188: "ospf", 189: "rip"}  # fmt: skip
RT_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
RT_TYPES = {0: "unspec", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
            6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}  # fmt: skip
#: TCP states as include/net/tcp_states.h numbers them (UDP and UNIX reuse them).
TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
              11: "CLOSING", 12: "NEW_SYN_RECV"}  # fmt: skip
UNIX_TYPES = {1: "stream", 2: "dgram", 5: "seqpacket"}
FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}


class NetlinkError(DebugtoolError):
    """The kernel refused a netlink request, or its reply could not be read."""

    def __init__(self, message: str, err: int = 0) -> None:
        super().__init__(message)
        self.errno = err


# --- raw messages and attributes --------------------------------------------------------------


def messages(data: bytes | memoryview) -> Iterator[tuple[int, int, memoryview]]:
    """Yield ``(type, flags, payload)`` for each netlink message in ``data``.

    Raises ``NetlinkError`` for an ``NLMSG_ERROR`` message with a non-zero error.
    """
    view = memoryview(data)
    offset = 0
    end = len(view)
    while offset + _NLMSGHDR.size <= end:
        length, mtype, flags, _seq, _pid = _NLMSGHDR.unpack_from(view, offset)
        if length < _NLMSGHDR.size or offset + length > end:
            break
        payload = view[offset + _NLMSGHDR.size : offset + length]
        if mtype == NLMSG_ERROR:
            (err,) = struct.unpack_from("=i", payload)
            if err:
                raise NetlinkError(f"netlink request failed: {os.strerror(-err)}.", -err)
        else:
            yield mtype, flags, payload
        offset += (length + 3) & ~3


def attributes(data: memoryview, offset: int = 0) -> dict[int, memoryview]:
    """Return ``{type: payload}`` for the netlink attributes in ``data`` from ``offset``.

    The nested and byte-order flag bits are masked off the type; a repeated type keeps the last.
    """
    attrs: dict[int, memoryview] = {}
    end = len(data)
    while offset + 4 <= end:
        length, atype = _NLATTR.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            break
        attrs[atype & 0x3FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return attrs


def _cstring(value: memoryview) -> str:
    return bytes(value).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _u32(value: memoryview) -> int:
    return int(struct.unpack_from("=I", value)[0])


def format_ip(family: int, raw: bytes) -> str:
    """Return an address as text; an IPv4-mapped IPv6 address keeps its dotted quad."""
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    if raw[:12] == b"\0" * 10 + b"\xff\xff":
        return "::ffff:" + socket.inet_ntop(socket.AF_INET, raw[12:16])
    return socket.inet_ntop(socket.AF_INET6, raw[:16])


def format_mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


# --- rtnetlink --------------------------------------------------------------------------------


class Link:
    """One RTM_NEWLINK record: ``parse_links`` fills in what the kernel sent."""

    __slots__ = ("index", "name", "flags", "mtu", "mac", "operstate", "kind", "link",
                 "link_netnsid", "master", "stats")  # fmt: skip

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name
        self.flags = 0
        self.mtu = 0
        self.mac = ""
        self.operstate = ""
        self.kind = ""
        self.link = 0  # IFLA_LINK: the peer's index (veth), possibly in another namespace
        self.link_netnsid: int | None = None  # that peer's namespace, as this one numbers it
        self.master = 0
        self.stats: dict[str, int] = {}


class AddressRecord:
    """One RTM_NEWADDR record."""

    __slots__ = ("family", "index", "address", "prefixlen", "scope", "label")

    def __init__(
        self, family: str, index: int, address: str, prefixlen: int, scope: str, label: str = ""
    ) -> None:
        self.family = family
        self.index = index
        self.address = address
        self.prefixlen = prefixlen
        self.scope = scope
        self.label = label


class RouteRecord:
    """One RTM_NEWROUTE record (``oif`` is an interface index)."""

    __slots__ = ("family", "destination", "gateway", "oif", "metric", "table", "protocol",
                 "scope", "type", "prefsrc")  # fmt: skip

    def __init__(
        self,
        family: str,
        destination: str,
        gateway: str = "",
        oif: int = 0,
        metric: int = 0,
        table: str = "main",
        protocol: str = "",
        scope: str = "",
        type: str = "",
        prefsrc: str = "",
    ) -> None:
        self.family = family
        self.destination = destination
        self.gateway = gateway
        self.oif = oif
        self.metric = metric
        self.table = table
        self.protocol = protocol
        self.scope = scope
        self.type = type
        self.prefsrc = prefsrc


#: struct rtnl_link_stats64, in order; debugtool keeps the first eight.
_STATS64 = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
            "rx_dropped", "tx_dropped")  # fmt: skip


def _state_name(flags: int, operstate: int) -> str:
    # iproute2 shows UNKNOWN for loopback and tunnels that report no carrier state; a down
    # interface (no IFF_UP) is DOWN whatever operstate says.
    if not flags & IFF_UP:
        return "DOWN"
    return OPERSTATES.get(operstate, str(operstate))


def parse_links(data: bytes | memoryview) -> list[Link]:
    """Parse an RTM_GETLINK dump reply into ``Link`` records."""
    links = []
    for mtype, _flags, payload in messages(data):
        if mtype != RTM_NEWLINK:
            continue
        _family, _type, index, ifflags, _change = _IFINFOMSG.unpack_from(payload)
        attrs = attributes(payload, _IFINFOMSG.size)
        link = Link(index=index, name=_cstring(attrs[IFLA_IFNAME]) if IFLA_IFNAME in attrs else "")
        link.flags = ifflags
        if IFLA_MTU in attrs:
            link.mtu = _u32(attrs[IFLA_MTU])
        if IFLA_ADDRESS in attrs:
            link.mac = format_mac(bytes(attrs[IFLA_ADDRESS]))
        link.operstate = _state_name(
            ifflags, attrs[IFLA_OPERSTATE][0] if IFLA_OPERSTATE in attrs else 0
        )
        if IFLA_LINK in attrs:
            link.link = _u32(attrs[IFLA_LINK])
        if IFLA_LINK_NETNSID in attrs:
            link.link_netnsid = struct.unpack_from("=i", attrs[IFLA_LINK_NETNSID])[0]
        if IFLA_MASTER in attrs:
            link.master = _u32(attrs[IFLA_MASTER])
        if IFLA_LINKINFO in attrs:
            info = attributes(attrs[IFLA_LINKINFO])
            if IFLA_INFO_KIND in info:
                link.kind = _cstring(info[IFLA_INFO_KIND])
        if not link.kind and ifflags & IFF_LOOPBACK:
            link.kind = "loopback"
        if IFLA_STATS64 in attrs and len(attrs[IFLA_STATS64]) >= 8 * len(_STATS64):
            values = struct.unpack_from(f"={len(_STATS64)}Q", attrs[IFLA_STATS64])
            link.stats = dict(zip(_STATS64, values, strict=True))
        links.append(link)
    return links


def parse_addresses(data: bytes | memoryview) -> list[AddressRecord]:
    """Parse an RTM_GETADDR dump reply into ``AddressRecord`` records."""
    out = []
    for mtype, _flags, payload in messages(data):
        if mtype != RTM_NEWADDR:
            continue
        family, prefixlen, _ifa_flags, scope, index = _IFADDRMSG.unpack_from(payload)
        if family not in FAMILIES:
            continue
        attrs = attributes(payload, _IFADDRMSG.size)
        # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a
        # point-to-point link, and the only one IPv6 sends.
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if raw is None:
            continue
        out.append(
            AddressRecord(
                family=FAMILIES[family],
                index=index,
                address=format_ip(family, bytes(raw)),
                prefixlen=prefixlen,
                scope=RT_SCOPES.get(scope, str(scope)),
                label=_cstring(attrs[IFA_LABEL]) if IFA_LABEL in attrs else "",
            )
        )
    return out


def parse_routes(data: bytes | memoryview) -> list[RouteRecord]:
    """Parse an RTM_GETROUTE dump reply into ``RouteRecord`` records (cached clones skipped)."""
    out = []
    for mtype, _flags, payload in messages(data):
        if mtype != RTM_NEWROUTE:
            continue
        family, dst_len, _src_len, _tos, table, proto, scope, rtype, rflags = _RTMSG.unpack_from(
            payload
        )
        if family not in FAMILIES or rflags & RTM_F_CLONED:
            continue
        attrs = attributes(payload, _RTMSG.size)
        if RTA_TABLE in attrs:
            table = _u32(attrs[RTA_TABLE])
        if RTA_DST in attrs:
            destination = f"{format_ip(family, bytes(attrs[RTA_DST]))}/{dst_len}"
        else:
            destination = "default" if dst_len == 0 else f"/{dst_len}"
        gateway = ""
        if RTA_GATEWAY in attrs:
            gateway = format_ip(family, bytes(attrs[RTA_GATEWAY]))
        elif RTA_VIA in attrs and len(attrs[RTA_VIA]) > 2:
            # struct rtvia: a family, then the address (an IPv4 route through an IPv6 gateway).
            via_family = struct.unpack_from("=H", attrs[RTA_VIA])[0]
            gateway = format_ip(via_family, bytes(attrs[RTA_VIA][2:]))
        out.append(
            RouteRecord(
                family=FAMILIES[family],
                destination=destination,
                gateway=gateway,
                oif=_u32(attrs[RTA_OIF]) if RTA_OIF in attrs else 0,
                metric=_u32(attrs[RTA_PRIORITY]) if RTA_PRIORITY in attrs else 0,
                table=RT_TABLES.get(table, str(table)),
                protocol=RT_PROTOCOLS.get(proto, str(proto)),
                scope=RT_SCOPES.get(scope, str(scope)),
                type=RT_TYPES.get(rtype, str(rtype)),
                prefsrc=format_ip(family, bytes(attrs[RTA_PREFSRC]))
                if RTA_PREFSRC in attrs
                else "",
            )
        )
    return out


def link_request() -> bytes:
    """Return the payload of an RTM_GETLINK dump request (every interface)."""
    return _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)


def addr_request() -> bytes:
    """Return the payload of an RTM_GETADDR dump request (every family)."""
    return _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)


def route_request() -> bytes:
    """Return the payload of an RTM_GETROUTE dump request (every family and table)."""
    return _RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0)


def nsid_request(ns_fd: int) -> bytes:
    """Return the payload of an RTM_GETNSID request: which id does this namespace give the
    network namespace open at ``ns_fd``?"""
    attr = _NLATTR.pack(8, NETNSA_FD) + struct.pack("=I", ns_fd)
    return _RTGENMSG.pack(socket.AF_UNSPEC) + attr


def parse_nsid(data: bytes | memoryview) -> int | None:
    """Return the id in an RTM_NEWNSID reply, or None when the namespace has none (-1)."""
    for mtype, _flags, payload in messages(data):
        if mtype == RTM_NEWNSID:
            attrs = attributes(payload, _RTGENMSG.size)
            if NETNSA_NSID in attrs:
                nsid = struct.unpack_from("=i", attrs[NETNSA_NSID])[0]
                return None if nsid < 0 else int(nsid)
    return None


# --- sock_diag --------------------------------------------------------------------------------


def inet_request(family: int, protocol: int, states: int = 0xFFFFFFFF) -> bytes:
    """Return the payload of an inet_diag_req_v2 dump request for every socket of a kind."""
    return struct.pack("=BBBxI", family, protocol, 0, states) + bytes(48)


def unix_request(states: int = 0xFFFFFFFF) -> bytes:
    """Return the payload of a unix_diag_req dump request (name, peer, queues, uid shown)."""
    show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID
    return struct.pack("=BBxxIIIII", socket.AF_UNIX, 0, states, 0, show, 0, 0)


def inet_state(protocol: str, state: int) -> str:
    """Return a socket state's name; an unconnected datagram or raw socket is ``UNCONN``."""
    if state == 7 and not protocol.startswith("tcp"):
        return "UNCONN"
    return TCP_STATES.get(state, str(state))


def parse_inet_diag(data: bytes | memoryview, protocol: str) -> list[Socket]:
    """Parse an inet_diag dump reply; ``protocol`` is the name to give (tcp, udp6, raw, ...).

    Raises ``NetlinkError`` for an error message in the reply; a cut-off last message is
    ignored. Written for dumps of ten thousand sockets: one ``unpack_from`` a message (header
    and body at once, the unused fields skipped), and each distinct address and state named once.
    """
    out: list[Socket] = []
    append = out.append
    view = memoryview(data)
    end = len(view)
    size = _INET_DIAG_REPLY.size
    unpack = _INET_DIAG_REPLY.unpack_from
    ntohs = socket.ntohs
    names: dict[bytes, str] = {}
    states = {n: inet_state(protocol, n) for n in range(13)}
    offset = 0
    while offset + size <= end:
        (length, mtype, family, state, sport, dport, src, dst,
         rqueue, wqueue, uid, inode) = unpack(view, offset)  # fmt: skip
        if length < _NLMSGHDR.size or offset + length > end:
            break
        if mtype == SOCK_DIAG_BY_FAMILY and length >= size:
            local = names.get(src)
            if local is None:
                local = names[src] = format_ip(family, src)
            remote = names.get(dst)
            if remote is None:
                remote = names[dst] = format_ip(family, dst)
            state_name = states.get(state)
            append(
                Socket(
                    protocol=protocol,
                    state=state_name if state_name is not None else str(state),
                    local_address=local,
                    local_port=ntohs(sport),
                    remote_address=remote,
                    remote_port=ntohs(dport),
                    inode=inode,
                    uid=uid,
                    rx_queue=rqueue,
                    tx_queue=wqueue,
                )
            )
        elif mtype == NLMSG_ERROR:
            _raise_errors(view[offset : offset + length])
        offset += (length + 3) & ~3
    # What is left is shorter than a socket's message: an error, or the cut-off end of a reply.
    _raise_errors(view[offset:])
    return out


def _raise_errors(data: memoryview) -> None:
    """Raise ``NetlinkError`` for an error message among the (whole) messages in ``data``."""
    for _ in messages(data):
        pass


def unix_path(raw: bytes) -> str:
    """Return a UNIX socket name as ``ss`` shows it: abstract names start with ``@``."""
    if raw.startswith(b"\0"):
        return "@" + raw[1:].decode("utf-8", "surrogateescape").replace("\0", "@")
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def unix_state(state: int) -> str:
    """Return a UNIX socket's state as ``ss`` names it (unconnected: ``UNCONN``)."""
    if state == 7:
        return "UNCONN"
    return TCP_STATES.get(state, str(state))


def parse_unix_diag(data: bytes | memoryview) -> list[Socket]:
    """Parse a unix_diag dump reply into ``Socket`` records (protocol ``unix``)."""
    out = []
    for mtype, _flags, payload in messages(data):
        if mtype != SOCK_DIAG_BY_FAMILY:
            continue
        _family, stype, state, inode, _cookie = _UNIX_DIAG_MSG.unpack_from(payload)
        attrs = attributes(payload, _UNIX_DIAG_MSG_SIZE)
        sock = Socket(
            protocol="unix",
            state=unix_state(state),
            inode=inode,
            socket_type=UNIX_TYPES.get(stype, str(stype)),
        )
        if UNIX_DIAG_NAME in attrs:
            sock.path = unix_path(bytes(attrs[UNIX_DIAG_NAME]))
        if UNIX_DIAG_PEER in attrs:
            sock.peer_inode = _u32(attrs[UNIX_DIAG_PEER])
        if UNIX_DIAG_RQLEN in attrs:
            sock.rx_queue, sock.tx_queue = struct.unpack_from("=II", attrs[UNIX_DIAG_RQLEN])
        if UNIX_DIAG_UID in attrs:
            sock.uid = _u32(attrs[UNIX_DIAG_UID])
        out.append(sock)
    return out


# --- the socket -------------------------------------------------------------------------------


class NetlinkSocket:
    """A netlink socket of one protocol that sends dump requests and collects the replies.

    Create it inside a network namespace to query that namespace; it stays bound to it.
    Raises ``NetlinkError`` when the kernel refuses a request.
    """

    BUFSIZE = 1 << 18

    def __init__(self, protocol: int) -> None:
        self.protocol = protocol
        try:
            self.sock = socket.socket(
                socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol
            )
            self.sock.bind((0, 0))
        except OSError as exc:
            raise NetlinkError(
                f"cannot open a netlink socket: {exc.strerror}.", exc.errno or 0
            ) from None
        self.seq = 0
        self.sock.settimeout(5.0)

    def dump(self, mtype: int, payload: bytes) -> bytes:
        """Send a dump request of ``mtype`` and return every reply message, concatenated.

        Raises ``NetlinkError`` on a refused request, an interrupted dump or a timeout.
        """
        self.seq += 1
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(payload), mtype, NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0
        )
        chunks: list[bytes] = []
        try:
            self.sock.send(header + payload)
            while True:
                data = self.sock.recv(self.BUFSIZE)
                if not data:
                    break
                done, body = _until_done(data, self.seq)
                chunks.append(body)
                if done:
                    break
        except TimeoutError:
            raise NetlinkError("the kernel did not answer a netlink dump in time.") from None
        except OSError as exc:
            raise NetlinkError(f"netlink dump failed: {exc.strerror}.", exc.errno or 0) from None
        return b"".join(chunks)

    def request(self, mtype: int, payload: bytes) -> bytes:
        """Send one request of ``mtype`` (not a dump) and return the kernel's answer.

        Raises ``NetlinkError`` when the kernel refuses it or does not answer.
        """
        self.seq += 1
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(payload), mtype, NLM_F_REQUEST, self.seq, 0)
        try:
            self.sock.send(header + payload)
            while True:
                data = self.sock.recv(self.BUFSIZE)
                # Skip any leftover of an earlier exchange: answer messages carry our seq.
                if len(data) >= _NLMSGHDR.size and _NLMSGHDR.unpack_from(data)[3] == self.seq:
                    break
        except TimeoutError:
            raise NetlinkError("the kernel did not answer a netlink request in time.") from None
        except OSError as exc:
            raise NetlinkError(f"netlink request failed: {exc.strerror}.", exc.errno or 0) from None
        for _ in messages(data):
            pass  # raises NetlinkError for an error answer
        return data

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> NetlinkSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The NLMSG_DONE that ends a dump: a header and an int (an error; extended-ack attributes
#: would follow only on a socket that set NETLINK_EXT_ACK, which these never do).
_DONE_SIZE = _NLMSGHDR.size + 4


def _until_done(data: bytes, seq: int) -> tuple[bool, bytes]:
    """Return whether ``data`` (one datagram) ends the dump of ``seq`` (DONE or ERROR), and its
    messages.

    Raises ``NetlinkError`` when the kernel answered the request with an error, or ended the dump
    with one.

    A dump of ten thousand sockets is some forty datagrams of a few hundred messages each, so
    only the ends are looked at first: the kernel puts DONE last in the final datagram and sends
    an error answer as a datagram of its own. The messages are walked only when one of those
    shows, in the datagram that then ends the dump.
    """
    size = len(data)
    if size < _NLMSGHDR.size:
        return False, data
    first = _NLMSGHDR.unpack_from(data)
    last = _NLMSGHDR.unpack_from(data, size - _DONE_SIZE) if size >= _DONE_SIZE else first
    if not (
        (first[1] == NLMSG_ERROR and first[3] == seq)
        or (last[0] == _DONE_SIZE and last[1] == NLMSG_DONE and last[3] == seq)
    ):
        return False, data
    return _walk_until_done(data, seq)


def _walk_until_done(data: bytes, seq: int) -> tuple[bool, bytes]:
    """``_until_done`` by every message's header, for a datagram whose ends say it may end."""
    view = memoryview(data)
    offset = 0
    while offset + _NLMSGHDR.size <= len(view):
        length, mtype, _flags, mseq, _pid = _NLMSGHDR.unpack_from(view, offset)
        if length < _NLMSGHDR.size:
            break
        if mseq == seq and mtype == NLMSG_DONE:
            # A dump that failed part-way ends in DONE carrying a negative errno.
            if length >= _NLMSGHDR.size + 4:
                (err,) = struct.unpack_from("=i", view, offset + _NLMSGHDR.size)
                if err < 0:
                    raise NetlinkError(f"netlink dump failed: {os.strerror(-err)}.", -err)
            return True, data[:offset]
        if mseq == seq and mtype == NLMSG_ERROR:
            (err,) = struct.unpack_from("=i", view, offset + _NLMSGHDR.size)
            if err < 0:
                raise NetlinkError(f"netlink request failed: {os.strerror(-err)}.", -err)
            return True, data[:offset]
        offset += (length + 3) & ~3
    return False, data


def is_unsupported(exc: NetlinkError) -> bool:
    """Return whether an error means this kernel lacks the requested dump (fall back to /proc)."""
    return exc.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.EPROTONOSUPPORT, errno.EINVAL)
