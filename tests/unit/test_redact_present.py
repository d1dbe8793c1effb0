"""``redact.present_in``: which values a file holds, for the second pass and the leak scan.
Values that start alike are looked for together; the answer must be a substring test's."""

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
