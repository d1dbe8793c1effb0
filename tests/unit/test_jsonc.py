"""``debugtool.jsonc`` reads and writes what ``json.loads`` and ``json.dumps`` do."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from debugtool import jsonc

DOCUMENTS = [
    '{"Id": "abc", "Names": ["/x"], "State": {"Pid": 42, "Running": true}, "Env": null}',
    ' [1, -2.5e3, 1e400, "\\u00e9\\ud83d\\ude00", {"a": {}}, [], false] \n',
    '"just a string"',
    "0",
    '{"big": 123456789012345678901234567890, "nested": [[[[{"k": "v"}]]]]}',
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_loads_matches_json(text: str) -> None:
    assert jsonc.loads(text) == json.loads(text)
    assert jsonc.loads(text.encode()) == json.loads(text.encode())


def test_constants_and_errors() -> None:
    assert jsonc.loads("[Infinity, -Infinity]") == [math.inf, -math.inf]
    assert math.isnan(jsonc.loads("NaN"))
    for bad in ("", "{", '{"a": 1} x', "[1,]", "\x00", '"\x01"'):
        with pytest.raises(ValueError):
            jsonc.loads(bad)
    with pytest.raises(UnicodeDecodeError):
        jsonc.loads(b'"\xff"')


VALUES = [
    {"id": "x", "pid": 3, "labels": {"k": "v\x1b]52;c\x07"}, "ok": True, "none": None},
    [1.5, -0.0, 10**30, "\u202e\ud800", (1, 2)],
    "text\n\x9b",
    float("inf"),
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_matches_json(value: object) -> None:
    assert jsonc.dumps(value) == json.dumps(value)


def test_default_is_called_for_other_types_and_absent_default_raises() -> None:
    encode = jsonc.encoder(default=lambda v: sorted(v))
    assert encode({"s": {3, 1}}) == '{"s": [1, 3]}'
    value = {"b": 1, "a": {"d": object, "c": 2}}
    assert jsonc.encoder(default=str, sort_keys=True)(value) == json.dumps(
        value, default=str, sort_keys=True
    )
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsonc.dumps({1, 2})


def fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter with nothing imported first (-S: no site, so no
    editable-install finder, which imports re and json's neighbours itself); return stdout."""
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ).stdout


def test_bad_json_is_a_decode_error_without_json_imported() -> None:
    # _json looks json.decoder up in sys.modules to word a syntax error: without it there, it
    # raises SystemError. In a fresh interpreter that imported only jsonc, every kind of bad
    # text is still a DecodeError.
    code = (
        "import debugtool.jsonc as j\n"
        "for bad in ['{', '[1,]', '\"\\x01\"', '{\"a\" 1}', '[1 2]', '']:\n"
        "    try: j.loads(bad)\n"
        "    except j.DecodeError as e: print(e.msg)\n"
    )
    out = fresh_python(code)
    assert len(out.splitlines()) == 6, out


def test_importing_it_imports_neither_json_nor_re() -> None:
    code = (
        "import sys, debugtool.jsonc as j; j.loads('[1]'); j.dumps([1]); print(sorted(sys.modules))"
    )
    modules = eval(fresh_python(code))  # noqa: S307 - our own child's repr of a list of names
    assert "json" not in modules and "re" not in modules and "enum" not in modules


def test_decode_errors_say_where_and_hooks_apply() -> None:
    with pytest.raises(jsonc.DecodeError) as caught:
        jsonc.loads('{\n  "a": nope}')
    assert (caught.value.msg, caught.value.lineno, caught.value.colno) == ("Expecting value", 2, 8)
    with pytest.raises(jsonc.DecodeError, match="Extra data"):
        jsonc.loads("[1] 2")

    def finite(text: str) -> float:
        raise ValueError(f"not finite: {text}") if text == "1e400" else None

    strict = jsonc.decoder(parse_float=lambda t: float(t), parse_constant=lambda name: 0)
    assert strict("[NaN, 1.5]") == [0, 1.5]
    with pytest.raises(ValueError, match="not finite"):
        jsonc.decoder(parse_float=finite)("[1e400]")
    text = 'xx {"k": [1, 2]}, rest'
    assert (
        jsonc.raw_decode(text, 3) == ({"k": [1, 2]}, 16) == json.JSONDecoder().raw_decode(text, 3)
    )
