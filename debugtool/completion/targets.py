"""The container targets a completion script offers on TAB, listed quickly and never loudly.

``debugtool completion SHELL --complete-targets=PREFIX`` runs on every TAB that completes a
target, so it asks every runtime with a short timeout and waits no longer than ``LIMIT`` in all
(a hung runtime is abandoned in its daemon thread, not waited for), writes one candidate a line
and nothing else: no warning, no traceback, exit 0 whatever happens, even without root.

A candidate comes from the containers themselves (names, pod and label values), so it may be
hostile: one with a control character (a newline would split it into two, a tab is fish's
description separator, an escape sequence would reach the terminal) or a leading ``-`` (it
would read as an option) is dropped here; the scripts quote what is left (spaces, ``$``, ``;``,
backquotes) so that it is inserted as one literal word.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from debugtool.model import Container

#: Each runtime's own timeout (seconds); ``discover`` waits this plus its 0.5 s grace at most.
RUNTIME_TIMEOUT = 0.3
#: The most the listing may take once the command line is read (seconds), a hung runtime
#: included: a TAB must never stall the shell.
LIMIT = 0.9


def forms(container: Container) -> list[str]:
    """Return the ways ``container`` may be named (``debugtool.target.find``'s forms): its
    name first, then ``RUNTIME:NAME`` (``containerd:NAMESPACE/NAME`` too),
    ``pod/NAME/CONTAINER`` and ``pod/NAME``."""
    c = container
    names = [c.name]
    if c.name:
        names.append(f"{c.runtime}:{c.name}")
        if c.runtime == "containerd" and c.namespace:
            names.append(f"containerd:{c.namespace}/{c.name}")
    if c.pod and c.k8s_container not in ("", "POD"):  # the pause container holds no workload
        names += [f"pod/{c.pod}/{c.k8s_container}", f"pod/{c.pod}"]
    return names


def candidates(containers: Iterable[Container], prefix: str) -> list[str]:
    """Return the targets that start with ``prefix``, safe ones only, each once.

    Until the prefix holds a qualifier (``docker:``, ``pod/``, ``pid:``) the names are offered
    with the qualifiers themselves (``docker:``, ``pod/``), not every name under every
    qualifier, which would double the list; past one, the names under it. An id (12
    characters, or whole once the prefix is longer) is offered only when the prefix is the start
    of it, for the same reason; never when it is the name (containerd and runc name a
    container by its id), which it would make ambiguous.
    """
    containers = list(containers)
    qualified = ":" in prefix or prefix.startswith("pod/")
    found: dict[str, None] = {}
    for c in containers:
        if qualified:
            found.update((name, None) for name in forms(c)[1:])
            if c.pid:
                found[f"pid:{c.pid}"] = None
            continue
        found[f"{c.runtime}:"] = None
        if c.pod and c.k8s_container not in ("", "POD"):
            found["pod/"] = None
    for c in containers:
        if c.name:
            found[c.name] = None
        if prefix and c.id.startswith(prefix) and c.id != c.name:  # containerd's, runc's ids
            found[c.id if len(prefix) >= 12 else c.id[:12]] = None
    return [name for name in found if name.startswith(prefix) and name != prefix and safe(name)]


def safe(candidate: str) -> bool:
    """Whether a script may offer ``candidate``: printable (no control character, no
    undecodable byte), not empty and not like an option."""
    return candidate.isprintable() and not candidate.startswith("-") and bool(candidate)


def list_targets(prefix: str) -> list[str]:
    """Return the candidates for ``prefix`` from every runtime that answers within ``LIMIT``;
    none when nothing answers. Never raises (an ``Exception``)."""
    from debugtool import deadline

    def ask() -> list[Container]:
        from debugtool.runtimes import discover

        found = discover(timeout=RUNTIME_TIMEOUT)
        return [c for c in found.containers if c.status in ("running", "paused", "created")]

    job = deadline.start(ask, name="dt-complete")
    deadline.wait([job], time.monotonic() + LIMIT)
    outcome = job.outcome()
    if not outcome.finished or outcome.value is None:
        return []
    try:
        return candidates(outcome.value, prefix)
    except Exception:  # noqa: BLE001 - a TAB shows nothing rather than an error
        return []


def print_targets(prefix: str) -> int:
    """Write the candidates for ``prefix`` on standard output, one a line; return 0.

    Standard error is pointed at /dev/null first: a backend or plugin that warns must not
    print over the user's command line.
    """
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
    except OSError:
        pass
    try:
        data = "".join(f"{name}\n" for name in list_targets(prefix)).encode()
        while data:
            data = data[os.write(1, data) :]
    except OSError:  # the shell stopped reading (the user pressed a key): nothing to tell
        pass
    return 0
