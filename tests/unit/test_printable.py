"""output.printable: what a container names is shown escaped, never acted on by the terminal."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from debugtool import output
from debugtool.errors import ContainerNotFound, DebugtoolError
from debugtool.output import PrintableStream, printable

CASES = [
    # (what a container wrote, what a person sees)
    ("ESC", "a\x1bb", "a\\x1bb"),
    ("CSI colour", "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("OSC 52 ended by BEL", "\x1b]52;c;SGVsbG8=\x07evil", "\\x1b]52;c;SGVsbG8=\\x07evil"),
    ("OSC 52 ended by ST", "\x1b]52;c;SGVsbG8=\x1b\\evil", "\\x1b]52;c;SGVsbG8=\\x1b\\evil"),
    ("C1 CSI", "\x9b31mred", "\\x9b31mred"),
    ("C1 OSC and ST", "\x9d0;title\x9c", "\\x9d0;title\\x9c"),
    ("DEL", "a\x7fb", "a\\x7fb"),
    ("NUL", "a\x00b", "a\\x00b"),
    ("backspace", "secret\x08\x08\x08\x08\x08\x08public", "secret" + "\\x08" * 6 + "public"),
    ("carriage return", "ok\rEVIL", "ok\\rEVIL"),
    ("newline", "sleep 1\nroot 1 0.0 fake", "sleep 1\\nroot 1 0.0 fake"),
    ("tab", "a\tb", "a\\tb"),
    ("right-to-left override", "evil\u202egpj.exe", "evil\\u202egpj.exe"),
    ("bidi isolates", "\u2066a\u2067b\u2068c\u2069", "\\u2066a\\u2067b\\u2068c\\u2069"),
    ("bidi embedding", "\u202aa\u202bb\u202cc\u202dd", "\\u202aa\\u202bb\\u202cc\\u202dd"),
    ("zero width space", "ro\u200bot", "ro\\u200bot"),
    ("line separator", "a\u2028b", "a\\u2028b"),
    ("tag character", "a\U000e0041b", "a\\U000e0041b"),
    ("byte that was not UTF-8", b"py\xffthon".decode("utf-8", "surrogateescape"), "py\\xffthon"),
    ("lone surrogate", "a\ud800b", "a\\ud800b"),
    ("clean ASCII", "/usr/bin/python3 -m http.server 8080", "/usr/bin/python3 -m http.server 8080"),
    ("clean Unicode", "café 中文 🙂 naïve", "café 中文 🙂 naïve"),
    ("no-break space stays", "a\u00a0b", "a\u00a0b"),
    ("backslash stays", "C:\\dir\\x1b", "C:\\dir\\x1b"),
    ("empty", "", ""),
]


@pytest.mark.parametrize("raw,shown", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_printable_shows_controls_as_escapes(raw: str, shown: str) -> None:
    result = printable(raw)
    assert result == shown
    assert printable(result) == result  # idempotent: a second pass changes nothing
    result.encode("utf-8")  # never a surrogate left to break an encoder
    for char in result:
        assert unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp"), repr(char)


def test_clean_text_is_the_same_object() -> None:
    text = "nginx: worker process"
    assert printable(text) is text


def test_multiline_keeps_newlines_and_tabs_only() -> None:
    raw = "line\tone\nline two\r\n\x1b]52;c;SGk=\x07\n"
    assert printable(raw, multiline=True) == "line\tone\nline two\\r\n\\x1b]52;c;SGk=\\x07\n"


def test_the_escaped_set_is_every_control_format_and_separator_character() -> None:
    """The hand-written character class matches Unicode's Cc, Cf, Cs, Zl and Zp exactly."""
    escaped = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    pattern = output._unsafe(False)
    wrong = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (unicodedata.category(chr(code)) in escaped) != bool(pattern.match(chr(code)))
    ]
    assert not wrong


@pytest.mark.parametrize("multiline", [False, True])
def test_short_and_long_text_are_escaped_alike(multiline: bool) -> None:
    """Short text is walked a character at a time (no ``re`` for a hostile name in ``ps``),
    long text is matched by the pattern: both escape every code point the same way."""
    pattern = output._unsafe(multiline)
    wrong = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if output._escape_each(chr(code), multiline) != pattern.sub(output._escape, chr(code))
    ]
    assert not wrong
    mixed = "".join(chr(c) for c in range(0, 0x3000, 7)) + "\U000e0041\udcff\u2028x"
    assert len(mixed) > output._SHORT  # printable takes the pattern; the walk must agree
    assert printable(mixed, multiline) == output._escape_each(mixed, multiline)


def test_short_hostile_text_is_escaped_without_re() -> None:
    code = (
        "import sys\n"
        "from debugtool.output import printable\n"
        "assert printable('web\\x1b]0;owned\\x07\\u202e') == 'web\\\\x1b]0;owned\\\\x07\\\\u202e'\n"
        "print('re' in sys.modules)\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {root!r})\n{code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "False\n"


def test_table_cells_are_escaped_and_stay_aligned() -> None:
    out = io.StringIO()
    output.table(["NAME", "COMMAND"], [["\x1b]0;x\x07", "a\nb"], ["ok", "c"]], stream=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()
    assert lines[1] == "\\x1b]0;x\\x07   a\\nb"
    assert lines[2].index("c") == lines[1].index("a\\nb")


def test_warn_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    output.warn("skipping /run/runc/\x1b[2J\n/state.json")
    err = capsys.readouterr().err
    assert err == "debugtool: warning: skipping /run/runc/\\x1b[2J\\n/state.json\n"


def test_error_sentences_for_people_are_escaped() -> None:
    exc = ContainerNotFound("no container matches 'a\x1b]52;c;SGk=\x07'.", "Try\x9b 'ps'.")
    assert exc.for_people() == "no container matches 'a\\x1b]52;c;SGk=\\x07'. Try\\x9b 'ps'."
    assert exc.message == "no container matches 'a\x1b]52;c;SGk=\x07'."  # the model keeps it
    assert DebugtoolError("plain").for_people() == "plain"


def test_printable_stream_writes_through_printable() -> None:
    target = io.StringIO()
    stream = PrintableStream(target)
    assert stream.write("x\x1b[2Jy\n") == len("x\x1b[2Jy\n")
    assert target.getvalue() == "x\\x1b[2Jy\n"


@pytest.mark.parametrize("records", [False, True])
def test_json_is_exact_and_never_carries_a_raw_control(records: bool) -> None:
    """--json is not escaped for people: JSON's own escapes keep it exact and terminal-safe,
    in an indented object and in a list written one object per line alike."""
    argv = ["\x1b]52;c;SGk=\x07", "\x9b31m", "\u202e", "a\nb", "x\udcffy", '}, {"argv": ']
    value: object = [{"argv": argv}, {"argv": argv[::-1]}] if records else {"argv": argv}
    out = io.StringIO()
    output.emit_json(value, out)
    text = out.getvalue()
    assert text.isascii()
    assert not any(c in text for c in "\x1b\x07\x9b")
    assert json.loads(text) == value  # round-trips, surrogate-escaped byte included


def test_json_writes_objects_indented_and_lists_of_objects_one_per_line() -> None:
    """One layout for every --json: the C encoder's speed, a person's reading, grep's lines."""
    from debugtool.model import to_dict
    from debugtool.snapshot import Network, Process, Socket

    net = Network(sockets=[Socket("tcp", "LISTEN", local_port=80), Socket("udp", "UNCONN")])
    out = io.StringIO()
    output.emit_json({"network": net, "processes": [Process(1, cmdline=["a}, {b"])]}, out)
    text = out.getvalue()
    assert json.loads(text) == {
        "network": to_dict(net),
        "processes": [to_dict(Process(1, cmdline=["a}, {b"]))],
    }
    lines = text.splitlines()
    assert lines[:3] == ["{", '  "network": {', '    "interfaces": [],']
    sockets = [line for line in lines if '"protocol"' in line]
    assert [line.split('"')[3] for line in sockets] == ["tcp", "udp"]
    assert all(line.startswith('      {"protocol": ') for line in sockets)
    # Objects that hold lists of their own kind are still cut between them, one by one.
    nested = [{"x": [{"x": 1}, {"x": 2}]}, {"x": 3}]
    out = io.StringIO()
    output.emit_json(nested, out)
    assert out.getvalue() == '[\n  {"x": [{"x": 1}, {"x": 2}]},\n  {"x": 3}\n]\n'


def test_html_report_escapes_controls_before_html() -> None:
    from debugtool.bundle.report import esc

    assert esc("evil\u202e<b>gpj\x1b[2J") == "evil\\u202e&lt;b&gt;gpj\\x1b[2J"
    assert esc("line 1\n\tline 2\r\n", multiline=True) == "line 1\n\tline 2\\r\n"
