"""Container logs: where each runtime keeps them, the formats it writes, read and followed.

- ``formats``: one log line (``LogLine``), RFC 3339 times, and an incremental decoder for each
  format a runtime writes (Docker's json-file and its API stream, the CRI format of Kubernetes
  and podman's k8s-file, journald's JSON export, raw bytes).
- ``files``: a log file read from its end (``--tail``) or whole, its rotated older files, and
  a follower that keeps reading across a rotation.
- ``sources``: which log belongs to a container (``open_log``): Docker's API or its json-file,
  podman's k8s-file or journald, a CRI log file, a containerd ``file://`` log URI, or a
  sentence saying that nothing is kept (``NoLog``) and where the output goes instead.

Nothing here imports a UI package; the command (``commands/logs.py``) and the TUI's Logs tab
print what ``Log.read`` yields.
"""
