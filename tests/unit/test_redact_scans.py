"""What makes the redactor's scans of a long log cheap, and must stay true for them to be exact.

``redact.present_in``: which values a file holds, for the second pass and the leak scan; values
that start alike are looked for together, and the answer must be a substring test's. And the
triggers ``Redactor.text`` found absent stay absent after a rule masks, since no mask can make
one."""

from __future__ import annotations

import random

import pytest

from debugtool.bundle import redact

LOG = (
    b'2026-12-06T10:00:00Z level=info dsn="postgres://app:S3cret3Value@db:5432/orders" '
    b"token=tok_000300000000\n2026-12-06T10:00:01Z GET /healthz 200 tok_ tok_0003\n"
)


def test_a_family_of_values_is_found_by_its_members_not_its_start() -> None:
    needles = [b"tok_%04d00000000" % i for i in range(20)] + [
        b"S3cret%dValue" % i for i in range(20)
    ]
    assert redact.present_in(LOG, needles) == [b"tok_000300000000", b"S3cret3Value"]


def test_a_value_shorter_than_the_shared_start_and_one_alone() -> None:
    assert redact.present_in(LOG, [b"tok", b"tok_0003", b"db:5432", b"absent"]) == [
        b"tok",
        b"tok_0003",
        b"db:5432",
    ]


@pytest.mark.parametrize("max_places", [0, 3, 20000])
def test_the_answer_is_a_substring_test_s(monkeypatch: pytest.MonkeyPatch, max_places: int) -> None:
    # With few places allowed, families fall back to a test each: the same answer.
    monkeypatch.setattr(redact, "_MAX_PLACES", max_places)
    rnd = random.Random(19)
    for _ in range(400):
        data = bytes(rnd.choice(b"abAB01_") for _ in range(rnd.randint(0, 300)))
        needles = [
            bytes(rnd.choice(b"abAB01_") for _ in range(rnd.randint(1, 8)))
            for _ in range(rnd.randint(0, 12))
        ]
        assert redact.present_in(data, needles) == [n for n in needles if n in data]


def test_no_trigger_can_be_made_by_a_mask() -> None:
    # A trigger with a '*' (MASK's first and last character) or inside MASK could appear
    # where a value was masked, and Redactor.text, which remembers the triggers it found
    # absent, would then skip a rule it must run.
    triggers = [t for rule in redact._PATTERNS for t in rule.triggers]
    assert triggers
    assert [t for t in triggers if "*" in t or t.lower() in redact.MASK.lower()] == []


# -- the scans of a long text for the triggers and the key words (redact._plan) --------------
def _scan_modes() -> list[object]:
    # The costs decide between a walk over a character's places and a regex: each forced.
    return [
        pytest.param({}, id="planned"),
        pytest.param({"_WALK_STOP": 0, "_WALK_CHECK": 0}, id="walks"),
        pytest.param({"_WALK": 10**9}, id="regexes"),
    ]


def _text(rnd: random.Random, alphabet: str, n: int) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize("costs", _scan_modes())
def test_holding_is_a_substring_test_s_answer(monkeypatch: pytest.MonkeyPatch, costs) -> None:
    for name, value in costs.items():
        monkeypatch.setattr(redact, name, value)
    rnd = random.Random(191)
    for _ in range(150):
        # Long enough to be sampled, or not; an alphabet small enough for many overlaps, with
        # a character outside Latin-1 now and then (a text of two or four bytes a character).
        alphabet = "abAB:_-" + rnd.choice(["", "é", "İ", "😀"])
        haystack = _text(rnd, alphabet, rnd.choice([rnd.randint(0, 40), rnd.randint(25000, 30000)]))
        needles = {_text(rnd, alphabet, rnd.randint(1, 6)) for _ in range(rnd.randint(1, 14))}
        assert redact._holding(haystack, needles) == {n for n in needles if n in haystack}


def _starts(haystack: str, word: str) -> list[int]:
    starts = []
    i = haystack.find(word)
    while i >= 0:
        starts.append(i)
        i = haystack.find(word, i + 1)
    return starts


@pytest.mark.parametrize("costs", _scan_modes())
def test_places_are_every_start_of_every_word(monkeypatch: pytest.MonkeyPatch, costs) -> None:
    for name, value in costs.items():
        monkeypatch.setattr(redact, name, value)
    rnd = random.Random(192)
    for _ in range(150):
        alphabet = "abcAB_" + rnd.choice(["", "é", "😀"])
        haystack = _text(rnd, alphabet, rnd.choice([rnd.randint(0, 40), rnd.randint(25000, 30000)]))
        words = {_text(rnd, alphabet, rnd.randint(1, 5)) for _ in range(rnd.randint(1, 10))}
        words = {w for w in words if not any(o != w and o in w for o in words)}
        expected = sorted(i for w in words for i in _starts(haystack, w))
        assert redact._places(haystack, words) == expected


def test_a_character_the_sample_missed_is_still_found_everywhere() -> None:
    # The sample (pieces spread over the text) holds no 'J', so 'eyJ' is looked for by a
    # walk over the places of 'J'; between the pieces the text holds thousands of them: the
    # walk turns to the regex for the rest, and every place is found.
    chars = list("GET /api/orders 200 rt=0.25\n" * 12000)
    size, pieces = redact._SAMPLE
    step = (len(chars) - size) // (pieces - 1)
    for i in range(len(chars)):
        if i % step > size + 8 and i % 7 == 0:
            chars[i] = "J"
    haystack = "".join(chars)
    at = [step + size + 100, len(haystack) - step // 2]
    for a in at:
        haystack = haystack[:a] + "eyJ" + haystack[a + 3 :]
    assert "J" not in redact._sample(haystack) and haystack.count("J") > 30000
    assert redact._plan(haystack, ["eyJ"])["J"][0] > 0  # a walk, meant to be short
    assert redact._holding(haystack, ["eyJ", "AKIA"]) == {"eyJ"}
    assert redact._places(haystack, ["eyJ"]) == at == _starts(haystack, "eyJ")


def _long_log(rnd: random.Random, lines: list[str]) -> str:
    base = [
        f"2026-12-06T10:00:{i % 60:02d}.{i:09d}Z 10.0.{i % 250}.{i % 199} GET /api/orders/{i} "
        f'200 {i * 7} "curl/8.5.0" session_timeout=30s rt=0.{i % 997:03d}'
        for i in range(2000)
    ]
    for line in lines:
        base.insert(rnd.randrange(len(base)), line)
    return "\n".join(base)


SECRET_LINES = [
    # Triggers and key words in both cases, cut by a line break, next to non-ASCII text, and
    # secrets that overlap (a DSN inside a URL with a token, a JWT inside a bearer header).
    'level=info dsn="postgres://app:S3cretValue1@db:5432/x" token=tok_00030000xyz',
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
    "AUTHORIZATION: BEARER Zm9vYmFyYmF6cXV4MTIz",
    "aws_access_key_id AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "İstanbul ünïcødé 😀 password=Hunter2xUnicode token: Tok3nValueÜ",
    "PASSWORD=UpperCase9Secret API_KEY=ak_9f8e7d6c5b4a",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345 xoxb-123456789012-abcdefghij",
    "sk-abcdefghijklmnopqrstuvwxyz012345 npm_abcdefghijklmnopqrstuvwxyz0123456789",
    "user:Dsn9Secret@tcp(db:3306)/app machine api.example.com login me password NetrcPw9",
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0",
    "-----END RSA PRIVATE KEY-----",
    "ey",
    "J not a token, AK",
    "IA half a key; PRIVATE",
    " KEY cut in two",
    "key: AQBrMVJh9qdWKRAA0W6V7bJkQSMZ8ZOX3nF9Kw==",
]


@pytest.mark.parametrize("seed", range(6))
def test_a_long_text_is_masked_as_the_short_path_masks_it(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Past 64 KiB the triggers and key words are found by _plan's scans; the same text run
    # through the path of a short text (a substring test per trigger, a str.find per key word)
    # is the oracle: the same output, counts and hunted values.
    rnd = random.Random(seed)
    text = _long_log(rnd, rnd.sample(SECRET_LINES, rnd.randint(4, len(SECRET_LINES))))
    assert len(text) > redact._ANY_TRIGGER_MAX
    long = redact.Redactor()
    out = long.text(text, "logs.txt")
    monkeypatch.setattr(redact, "_ANY_TRIGGER_MAX", 10**9)
    short = redact.Redactor()
    assert out == short.text(text, "logs.txt")
    assert long.counts == short.counts and long.secrets == short.secrets
    assert "S3cretValue1" not in out or "S3cretValue1" not in text
