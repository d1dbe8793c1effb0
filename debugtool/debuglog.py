"""``--debug``'s log: what went wrong and was handled, on stderr, and nothing without --debug.

The ``logging`` package costs about 9 ms to import (it pulls in ``traceback``, ``string``,
``threading`` and ``weakref``), so it is imported only when ``--debug`` turns the log on.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Whether ``--debug`` was given.
enabled = False


def enable() -> None:
    """Turn the log on: debug records of every debugtool module go to stderr."""
    global enabled
    import logging

    logging.basicConfig(
        level=logging.DEBUG, format="debugtool: %(levelname)s: %(name)s: %(message)s"
    )
    enabled = True


def log(source: str, message: str, *args: Any, exc_info: Any = None) -> None:
    """Log ``message % args`` from module ``source`` when ``--debug`` is on."""
    if enabled:
        import logging

        logging.getLogger(source).debug(message, *args, exc_info=exc_info)
