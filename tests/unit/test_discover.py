"""discover(): backends asked in parallel, a hung or broken one skipped with a warning."""

from __future__ import annotations

import time
from typing import ClassVar

import pytest

from debugtool import runtimes
from debugtool.errors import RuntimeUnavailable
from debugtool.model import Container
from debugtool.runtimes.base import Runtime


class Hung(Runtime):
    name: ClassVar[str] = "hung"
    delay = 1.0

    def present(self) -> bool:
        return True

    def list(self, all: bool = False) -> list[Container]:
        time.sleep(self.delay)
        return [Container(id=f"late-{self.name}", name="late", runtime=self.name)]


class Hung2(Hung):
    name: ClassVar[str] = "hung2"


class Down(Runtime):
    name: ClassVar[str] = "down"

    def present(self) -> bool:
        return True

    def list(self, all: bool = False) -> list[Container]:
        raise RuntimeUnavailable("down", "no socket at /run/down.sock")


class Buggy(Runtime):
    name: ClassVar[str] = "buggy"

    def present(self) -> bool:
        return True

    def list(self, all: bool = False) -> list[Container]:
        raise KeyError("Id")


class Absent(Runtime):
    name: ClassVar[str] = "absent"

    def present(self) -> bool:
        raise PermissionError("cannot look")

    def list(self, all: bool = False) -> list[Container]:
        raise AssertionError("an absent runtime is never asked")


class Fine(Runtime):
    name: ClassVar[str] = "fine"
    richness: ClassVar[int] = 10

    def present(self) -> bool:
        return True

    def list(self, all: bool = False) -> list[Container]:
        return [Container(id="abc", name="web", runtime="fine", status="running")]


def use(monkeypatch: pytest.MonkeyPatch, *classes: type[Runtime]) -> None:
    monkeypatch.setattr(
        runtimes, "load_runtimes", lambda names=None, timeout=2.0: [c(timeout) for c in classes]
    )


def test_two_hung_backends_share_one_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Joined one after the other with a timeout each, the second hung backend would get a
    second timeout and be counted; with one deadline both are skipped."""
    use(monkeypatch, Fine, Hung, Hung2)
    found = runtimes.discover(timeout=0.3)
    assert [c.id for c in found.containers] == ["abc"]
    assert found.warnings == [
        "hung: did not answer within 0.3s; skipped.",
        "hung2: did not answer within 0.3s; skipped.",
    ]
    assert set(found.runtimes) == {"fine"}


def test_down_buggy_and_absent_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, Fine, Down, Buggy, Absent)
    found = runtimes.discover()
    assert [c.id for c in found.containers] == ["abc"]
    assert "down: no socket at /run/down.sock; skipped." in found.warnings
    assert "buggy: failed: 'Id'; skipped." in found.warnings
    assert not any(w.startswith("absent") for w in found.warnings)  # not present: silent


def test_unknown_runtime_names_the_known_ones() -> None:
    with pytest.raises(Exception, match=r"unknown runtime nosuch\.") as err:
        runtimes.load_runtimes(["nosuch"])
    assert "Known runtimes:" in str(getattr(err.value, "hint", ""))
    assert "runc" in str(getattr(err.value, "hint", ""))


def test_merge_keeps_one_id_in_two_containerd_namespaces() -> None:
    """ctr lets two namespaces each have a container named web: two containers, each with its
    own runc record folded in; a record with no namespace still folds into one of them."""
    from debugtool.runtimes import merge

    def record(runtime: str, namespace: str, pid: int) -> Container:
        return Container(id="web", name="web", runtime=runtime, namespace=namespace, pid=pid)

    rank = {"containerd": 50, "runc": 20, "other": 10}
    merged = merge(
        [
            record("runc", "b", 2),
            record("containerd", "a", 1),
            record("runc", "a", 1),
            record("containerd", "b", 2),
            record("other", "", 0),
        ],
        lambda name: rank[name],
    )
    assert [(c.namespace, c.pid, c.backends) for c in merged] == [
        ("a", 1, ["containerd", "runc", "other"]),
        ("b", 2, ["containerd", "runc"]),
    ]
