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
