"""Shared fixtures: real containers from tests/harness.py, and the CLI run as a subprocess."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if os.geteuid() != 0:
                item.add_marker(pytest.mark.skip(reason="integration tests need root"))


@pytest.fixture(scope="session")
def images() -> None:
    """The busybox and distroless images, imported into every runtime once per session."""
    harness._become_subreaper()  # reap orphans left in container PID namespaces (see there)
    harness.ensure_images()


@pytest.fixture
def containers(images: None) -> Iterator[harness.Containers]:
    """A factory of real containers; every one it started is removed after the test."""
    with harness.Containers() as c:
        yield c


@pytest.fixture(scope="module")
def module_containers(images: None) -> Iterator[harness.Containers]:
    """Like ``containers``, shared by the tests of one module (for read-only tests)."""
    with harness.Containers() as c:
        yield c


@pytest.fixture
def fixture_text():
    """Read a captured text fixture from tests/fixtures/."""

    def read(name: str) -> str:
        return (FIXTURES / name).read_text(encoding="utf-8", errors="surrogateescape")

    return read


# Tests that need the CLI outside a fixture import it from the harness: ``from conftest import``
# is ambiguous once tests/tui has a conftest of its own.
run_cli = harness.run_cli


@pytest.fixture
def cli():
    """The ``run_cli`` function, as a fixture."""
    return run_cli
