"""A small protobuf wire-format reader (and the few writers containerd requests need).

containerd answers in protobuf; pulling in generated stubs and the protobuf runtime for three
messages costs more than reading the wire format by hand. A message decodes to a dict from field
number to the list of its values: an ``int`` for varint and fixed-width fields, ``bytes`` for
length-delimited ones (strings, nested messages, packed arrays), which the caller decodes further
because the wire format does not say which they are.
See https://protobuf.dev/programming-guides/encoding/.
"""

from __future__ import annotations

from debugtool.errors import DebugtoolError

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5

Message = dict[int, list[int | bytes]]


class DecodeError(DebugtoolError):
    """Bytes that are not a valid protobuf message."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Return ``(value, next position)`` of the varint at ``pos``. Raises ``DecodeError``."""
    if pos < len(buf) and buf[pos] < 0x80:
        return buf[pos], pos + 1
    value = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("a protobuf varint runs past the end of the message.")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise DecodeError("a protobuf varint is longer than 10 bytes.")


def decode(buf: bytes) -> Message:
    """Return the fields of one message as ``{field number: [values in order]}``.

    Raises ``DecodeError`` on truncated or malformed input.
    """
    fields: Message = {}
    pos = 0
    end = len(buf)
    while pos < end:
        # Tags, lengths and most integers fit in one byte: read those without a call (they are
        # most of a containerd listing's work).
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == LEN:
            if pos < end and buf[pos] < 0x80:
                size = buf[pos]
                pos += 1
            else:
                size, pos = read_varint(buf, pos)
            if pos + size > end:
                raise DecodeError(f"protobuf field {number} runs past the end of the message.")
            value = buf[pos : pos + size]
            pos += size
        elif wire == I64:
            if pos + 8 > end:
                raise DecodeError(f"protobuf field {number} runs past the end of the message.")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == I32:
            if pos + 4 > end:
                raise DecodeError(f"protobuf field {number} runs past the end of the message.")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:  # groups are long deprecated and never sent by containerd
            raise DecodeError(f"protobuf field {number} has unsupported wire type {wire}.")
        if number == 0:
            raise DecodeError("protobuf field number 0 is invalid.")
        fields.setdefault(number, []).append(value)
    return fields


def string(msg: Message, number: int, default: str = "") -> str:
    """Return the last value of a string field (protobuf's last-one-wins rule)."""
    values = msg.get(number)
    if not values or not isinstance(values[-1], bytes):
        return default
    return values[-1].decode("utf-8", "replace")


def integer(msg: Message, number: int, default: int = 0) -> int:
    """Return the last value of a varint or fixed-width field."""
    values = msg.get(number)
    if not values or not isinstance(values[-1], int):
        return default
    return values[-1]


def messages(msg: Message, number: int) -> list[bytes]:
    """Return every value of a repeated message (or bytes) field, still encoded."""
    return [v for v in msg.get(number, []) if isinstance(v, bytes)]


def submessage(msg: Message, number: int) -> Message | None:
    """Return the decoded last value of a message field, or None when absent."""
    values = messages(msg, number)
    return decode(values[-1]) if values else None


def string_map(msg: Message, number: int) -> dict[str, str]:
    """Return a ``map<string, string>`` field (entries are messages with key 1, value 2)."""
    out: dict[str, str] = {}
    for entry in messages(msg, number):
        fields = decode(entry)
        out[string(fields, 1)] = string(fields, 2)
    return out


def any_map(msg: Message, number: int) -> dict[str, tuple[str, bytes]]:
    """Return a ``map<string, google.protobuf.Any>`` field as ``{key: (type_url, value)}``."""
    out: dict[str, tuple[str, bytes]] = {}
    for entry in messages(msg, number):
        fields = decode(entry)
        value = submessage(fields, 2) or {}
        out[string(fields, 1)] = unpack_any(value)
    return out


def unpack_any(msg: Message) -> tuple[str, bytes]:
    """Return ``(type_url, value)`` of a decoded ``google.protobuf.Any``."""
    values = messages(msg, 2)
    return string(msg, 1), values[-1] if values else b""


def timestamp(msg: Message | None) -> float | None:
    """Return a decoded ``google.protobuf.Timestamp`` as seconds since the epoch.

    Seconds are an int64 on the wire: a negative value arrives as its two's complement. Go's zero
    ``time.Time`` (year 1) marshals to a large negative number; it means "not set" and gives None.
    """
    if not msg:
        return None
    seconds = integer(msg, 1)
    if seconds >= 1 << 63:
        seconds -= 1 << 64
    if seconds <= 0:
        return None
    return seconds + integer(msg, 2) / 1e9


def write_varint(value: int) -> bytes:
    """Return the varint encoding of a non-negative ``value``."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def write_bytes(number: int, value: bytes | str) -> bytes:
    """Return one length-delimited field (a string, bytes or an encoded message)."""
    data = value.encode() if isinstance(value, str) else value
    return write_varint(number << 3 | LEN) + write_varint(len(data)) + data


def write_int(number: int, value: int) -> bytes:
    """Return one varint field."""
    return write_varint(number << 3 | VARINT) + write_varint(value)
