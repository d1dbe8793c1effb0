"""``debugtool.record`` against ``dataclasses``: the same declarations behave the same way."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest

from debugtool import record as rec
from debugtool.record import field, record


@record
class Plain:
    name: str
    count: int = 0
    tags: list[str] = field(default_factory=list)
    kind: ClassVar[str] = "plain"


@dataclasses.dataclass
class PlainDC:
    name: str
    count: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)
    kind: ClassVar[str] = "plain"


@record(frozen=True)
class Frozen:
    a: int
    b: tuple[int, ...] = ()


@record(frozen=True, slots=True)
class Slotted:
    a: int
    b: str = "x"


@record
class Child(Plain):
    extra: str = ""


@record
class Posted:
    a: int
    doubled: int = 0

    def __post_init__(self) -> None:
        self.doubled = self.a * 2


def test_init_positional_keyword_and_defaults_match_dataclasses() -> None:
    for args, kwargs in (((), {"name": "x"}), (("x", 3), {}), (("x",), {"tags": ["t"]})):
        ours, theirs = Plain(*args, **kwargs), PlainDC(*args, **kwargs)
        assert (ours.name, ours.count, ours.tags) == (theirs.name, theirs.count, theirs.tags)
    assert rec.fields(Plain) == tuple(f.name for f in dataclasses.fields(PlainDC))
    assert Plain.kind == "plain" and "kind" not in rec.fields(Plain)
    assert repr(Plain("x")) == "Plain(name='x', count=0, tags=[])"
    with pytest.raises(TypeError):
        Plain()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Plain("x", nope=1)  # type: ignore[call-arg]


def test_default_factory_gives_each_record_its_own_value() -> None:
    first, second = Plain("a"), Plain("b")
    first.tags.append("t")
    assert second.tags == []
    # A plain default stays a class attribute, as with dataclasses; a factory's does not.
    assert Plain.count == 0 and "tags" not in Plain.__dict__


def test_equality_hash_and_vars() -> None:
    assert Plain("x", 1) == Plain("x", 1) and Plain("x", 1) != Plain("x", 2)
    assert Plain("x") != PlainDC("x")
    with pytest.raises(TypeError):
        hash(Plain("x"))  # mutable: unhashable, as a dataclass
    assert hash(Frozen(1, (2,))) == hash(Frozen(1, (2,)))
    assert {Frozen(1), Frozen(1)} == {Frozen(1)}
    # Fields are set in order, so vars() is the record as JSON writes it.
    assert list(vars(Plain("x"))) == ["name", "count", "tags"]


def test_frozen_refuses_assignment_and_slots_have_no_dict() -> None:
    f = Frozen(1)
    with pytest.raises(rec.FrozenInstanceError):
        f.a = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del f.a  # type: ignore[misc]
    s = Slotted(1)
    assert s.b == "x" and not hasattr(s, "__dict__") and Slotted.__slots__ == ("a", "b")
    with pytest.raises(rec.FrozenInstanceError):
        s.a = 3  # type: ignore[misc]
    assert Slotted(1) == Slotted(1, "x")


def test_inheritance_post_init_replace_and_asdict() -> None:
    c = Child("n", extra="e")
    assert rec.fields(c) == ("name", "count", "tags", "extra")
    assert (c.name, c.count, c.extra) == ("n", 0, "e")
    assert Posted(4).doubled == 8
    changed = rec.replace(Frozen(1, (2,)), a=5)
    assert changed == Frozen(5, (2,))
    nested = Plain("x", tags=["a"])
    assert rec.asdict({"k": [nested, Frozen(1)]}) == {
        "k": [{"name": "x", "count": 0, "tags": ["a"]}, {"a": 1, "b": ()}]
    }
    assert rec.is_record(Plain) and rec.is_record(nested) and not rec.is_record(PlainDC("x"))


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default"):

        @record
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]


def test_the_generic_and_the_compiled_init_agree() -> None:
    @record
    class Many:
        a: int
        b: str = "b"
        c: list[int] = field(default_factory=list)

    made = [Many(i, c=[i]) if i % 2 else Many(a=i) for i in range(40)]  # past the compile point
    assert [(m.a, m.b, m.c) for m in made[:4]] == [
        (0, "b", []),
        (1, "b", [1]),
        (2, "b", []),
        (3, "b", [3]),
    ]
    assert made[0] == Many(0) and made[39] == Many(39, "b", [39])
    assert Many.__init__.__qualname__.endswith("Many.__init__")
    for bad in ((), (1, "b", [], 4)):
        with pytest.raises(TypeError):
            Many(*bad)
    with pytest.raises(TypeError, match="multiple values"):
        Many(1, a=2)  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword"):
        Many(1, d=2)  # type: ignore[call-arg]
