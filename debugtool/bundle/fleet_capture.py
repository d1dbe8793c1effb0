"""Write a fleet bundle: every node captures its own bundle, and one archive holds them all.

``debugtool bundle -H NODES ...`` runs ``bundle ... -o -`` on every node through
``fleet.transport.run_many`` (``--forks`` at a time, each node within its timeout), streams
each node's bundle into a private 0600 file as it arrives, checks it (a bundle that does not
verify is kept out and its node marked failed), and writes the fleet archive (``fleet``
describes its layout) whole or not at all through ``archive.Destination``.
"""

from __future__ import annotations

import os
import tarfile
import time

from debugtool.bundle import fleet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


def root_name(now: float) -> str:
    """Return the fleet archive's top folder, ``debugtool-fleet-YYYYmmddTHHMMSSZ``."""
    return "debugtool-fleet-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def index_document(
    root: str,
    created_at: float,
    command_line: Sequence[str],
    nodes: Sequence[fleet.FleetNode],
    pseudonymised: bool = False,
) -> dict[str, Any]:
    """Return the fleet index (``fleet``'s docstring lists its fields)."""
    from debugtool import __version__

    return {
        "format": fleet.FORMAT,
        "schema_version": fleet.SCHEMA_VERSION,
        "debugtool_version": __version__,
        "created_at": created_at,
        "root": root,
        "command_line": list(command_line),
        "complete": all(n.status == fleet.OK for n in nodes),
        "pseudonymised": pseudonymised,
        "nodes": [n.to_dict() for n in nodes],
    }


def _info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o600
    info.uname = info.gname = "root"
    return info


def write_archive(fd: int, index: dict[str, Any], bundles: dict[str, str]) -> None:
    """Write a fleet archive to ``fd``: the index first, then each node's bundle file
    (``bundles``: member -> file) byte for byte, in the index's order.

    A plain tar, streamed (``fd`` may be a pipe): the members are gzip already. Raises
    ``OSError`` when writing fails.
    """
    import json

    root = index["root"]
    mtime = int(index["created_at"])
    data = json.dumps(index, indent=1, sort_keys=False).encode() + b"\n"
    with open(fd, "wb", closefd=False, buffering=1 << 20) as out:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            import io

            tar.addfile(_info(f"{root}/{fleet.INDEX}", len(data), mtime), io.BytesIO(data))
            for entry in index["nodes"]:
                member = entry.get("member")
                if member is None:
                    continue
                with open(bundles[member], "rb") as source:
                    size = os.fstat(source.fileno()).st_size
                    tar.addfile(_info(f"{root}/{member}", size, mtime), source)
