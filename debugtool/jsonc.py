"""JSON through CPython's C codec (``_json``), without importing the ``json`` package.

``import json`` imports ``re`` for its decoder's whitespace pattern, and ``re`` imports ``enum``,
``functools`` and ``collections``: about 8 ms of a command's start, more than a Docker API
round trip, on paths (``debugtool exec``, ``ps``, ``top``, ``net``) that need JSON and nothing
else of those. ``json`` itself does its work in ``_json``'s scanner and encoder; this module
builds the same two objects with the settings ``json.loads`` and ``json.dumps`` use, so the
text read and written is the same. An interpreter without ``_json`` gets the ``json`` package.
tests/unit/test_jsonc.py compares both ways with ``json``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"-Infinity": -1e400, "Infinity": 1e400, "NaN": 1e400 - 1e400}


class DecodeError(ValueError):
    """Text that is not JSON: ``msg`` says why, ``pos`` (``lineno``, ``colno``) where."""

    def __init__(self, msg: str, text: str, pos: int) -> None:
        self.msg, self.pos = msg, pos
        self.lineno = text.count("\n", 0, pos) + 1
        self.colno = pos - text.rfind("\n", 0, pos)
        super().__init__(f"{msg}: line {self.lineno} column {self.colno} (char {pos})")


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _text(data: str | bytes | bytearray) -> str:
    if isinstance(data, (bytes, bytearray)):
        return data.decode("utf-8-sig" if data[:3] == b"\xef\xbb\xbf" else "utf-8")
    return data


try:
    from _json import encode_basestring_ascii, make_encoder, make_scanner
except ImportError:  # pragma: no cover - not CPython
    import json as _json

    def decoder(
        parse_float: Callable[[str], Any] = float,
        parse_constant: Callable[[str], Any] = _CONSTANTS.__getitem__,
    ) -> Callable[[str | bytes], Any]:
        """Return ``json.loads`` with these hooks."""
        decoder = _json.JSONDecoder(parse_float=parse_float, parse_constant=parse_constant)
        return lambda data: decoder.decode(_text(data))

    def raw_decode(text: str, start: int) -> tuple[Any, int]:
        """Decode the one JSON value at ``text[start:]``; return it and where it ends."""
        return _json.JSONDecoder().raw_decode(text, start)

    def encoder(
        default: Callable[[Any], Any] = _no_default, sort_keys: bool = False
    ) -> Callable[[Any], str]:
        """Return ``json.dumps`` with ``default`` and ``sort_keys``."""
        return _json.JSONEncoder(default=default, sort_keys=sort_keys).encode

else:

    def _scanner(
        parse_float: Callable[[str], Any], parse_constant: Callable[[str], Any]
    ) -> Callable[[str, int], tuple[Any, int]]:
        class Context:  # what _json.make_scanner reads off a json.JSONDecoder
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_int = int

        context = Context()
        context.parse_float = parse_float  # type: ignore[attr-defined]
        context.parse_constant = parse_constant  # type: ignore[attr-defined]
        scan: Callable[[str, int], tuple[Any, int]] = make_scanner(context)  # type: ignore[arg-type]
        return scan

    def _decode_at(scan: Callable[[str, int], tuple[Any, int]], text: str, start: int) -> Any:
        try:
            return scan(text, start)
        except StopIteration as stop:
            raise DecodeError("Expecting value", text, stop.value) from None
        except SystemError:
            # _json words a syntax error with json.decoder.JSONDecodeError, which it looks up
            # in sys.modules without importing it: absent, it fails this way. Bad JSON is the
            # rare case; import json's decoder (and re) for it and read the text again.
            import json.decoder  # noqa: F401

            return _decode_at(scan, text, start)
        except ValueError as exc:  # json.decoder.JSONDecodeError
            if isinstance(exc, DecodeError) or not hasattr(exc, "pos"):
                raise
            raise DecodeError(getattr(exc, "msg", str(exc)), text, exc.pos) from None

    def decoder(
        parse_float: Callable[[str], Any] = float,
        parse_constant: Callable[[str], Any] = _CONSTANTS.__getitem__,
    ) -> Callable[[str | bytes], Any]:
        """Return ``json.loads`` with these hooks: a function of text (or UTF-8 bytes) that
        returns the one document in it, or raises ``DecodeError`` (a ValueError)."""
        scan = _scanner(parse_float, parse_constant)

        def loads(data: str | bytes) -> Any:
            text = _text(data)
            start = len(text) - len(text.lstrip(_WHITESPACE))
            value, end = _decode_at(scan, text, start)
            if text[end:].strip(_WHITESPACE):
                raise DecodeError("Extra data", text, end)
            return value

        return loads

    _SCAN = _scanner(float, _CONSTANTS.__getitem__)

    def raw_decode(text: str, start: int) -> tuple[Any, int]:
        """Decode the one JSON value at ``text[start:]``; return it and where it ends."""
        value, end = _decode_at(_SCAN, text, start)
        return value, end

    def encoder(
        default: Callable[[Any], Any] = _no_default, sort_keys: bool = False
    ) -> Callable[[Any], str]:
        """Return ``json.dumps`` with ``default`` and ``sort_keys``: ASCII (every control
        character, C1 and lone surrogate escaped), ``", "`` and ``": "`` separators, NaN and
        infinities allowed."""
        chunks = make_encoder(
            None, default, encode_basestring_ascii, None, ": ", ", ", sort_keys, False, True
        )

        def encode(value: Any) -> str:
            if isinstance(value, str):
                return str(encode_basestring_ascii(value))
            return "".join(chunks(value, 0))

        return encode


#: ``json.loads(data)``: raises DecodeError (a ValueError) for what is not JSON.
loads = decoder()
#: ``json.dumps(value)``.
dumps = encoder()
