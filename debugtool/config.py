"""The system configuration: one TOML file an administrator writes, read with ``tomllib``.

The path is ``/etc/debugtool/config.toml`` unless ``DEBUGTOOL_CONFIG`` names another. A missing
file is an empty configuration (every setting at its default). A file that is there but cannot
be used (not a regular file, unreadable, not TOML, a section that is not a table) stops the
command with one sentence: a policy the administrator wrote must never be silently ignored.

Each feature reads its own table (``section("audit")``, ``section("redact")``); what a table
holds is documented where it is used. The file is read once per process.
"""

from __future__ import annotations

import os
import stat

from debugtool.errors import DebugtoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PATH = "/etc/debugtool/config.toml"
#: Past this the file is not read (a configuration is a few hundred bytes).
SIZE_LIMIT = 1 << 20

_loaded: dict[str, Any] | None = None


class ConfigError(DebugtoolError):
    """The system configuration exists but cannot be used."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"cannot use the configuration file {path} ({reason}).",
            "Fix or remove it, or point DEBUGTOOL_CONFIG at another file.",
        )


def path() -> str:
    return os.environ.get("DEBUGTOOL_CONFIG") or DEFAULT_PATH


def load() -> dict[str, Any]:
    """Return the whole configuration (``{}`` when there is no file). Raises ``ConfigError``."""
    global _loaded
    if _loaded is None:
        _loaded = read(path())
    return _loaded


def section(name: str) -> dict[str, Any]:
    """Return one table of the configuration (``{}`` when absent). Raises ``ConfigError``."""
    table = load().get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(path(), f"[{name}] is not a table")
    return table


def read(where: str) -> dict[str, Any]:
    """Parse the configuration at ``where``; ``{}`` when it does not exist."""
    try:
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(where, exc.strerror or str(exc)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(where, "not a regular file")
        data = os.read(fd, SIZE_LIMIT + 1)
    finally:
        os.close(fd)
    if len(data) > SIZE_LIMIT:
        raise ConfigError(where, "larger than 1 MiB")
    import tomllib

    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(where, f"not valid TOML: {exc}") from None


def reset() -> None:
    """Forget the loaded configuration (tests change ``DEBUGTOOL_CONFIG`` between cases)."""
    global _loaded
    _loaded = None
