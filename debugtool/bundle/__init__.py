"""Support bundles: capture, collectors, redaction and leak scan, manifest, archive, reader, report.

``open_bundle`` and ``load_snapshot`` are the reading side the TUI and ``--bundle`` options use;
the capture side (``capture``, and the ``archive`` it writes) is imported by the ``bundle``
command only.
"""

from __future__ import annotations

from debugtool.bundle.reader import Bundle, load_snapshot, open_bundle

__all__ = ["Bundle", "load_snapshot", "open_bundle"]
