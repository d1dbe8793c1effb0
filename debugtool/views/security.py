"""The text of a container's security context, as ``inspect``, the console's ``caps``, the TUI's
Security tab and the report write it."""

from __future__ import annotations

from debugtool.snapshot import SecurityContext


def id_map(entries: list[tuple[int, int, int]]) -> str:
    """Return a uid or gid map as ``inside:outside:count`` entries (``podman --uidmap``)."""
    return " ".join(f"{inside}:{outside}:{count}" for inside, outside, count in entries) or "-"


def capabilities(names: list[str]) -> str:
    """Return capabilities by their kernel names, with their count: ``CAP_CHOWN CAP_KILL (2)``."""
    if not names:
        return "none"
    return " ".join(names) + f" ({len(names)})"


def lines(sec: SecurityContext) -> list[tuple[str, str]]:
    """Return ``(label, text)`` of each line; inheritable and ambient capabilities only when
    there are any. The warnings are ``sec.warnings``, shown after these."""
    filters = sec.seccomp_filters
    seccomp = (sec.seccomp or "unknown") + (
        f" ({filters} filter{'s' if filters != 1 else ''})" if filters else ""
    )
    out = [
        ("User namespace", "yes" if sec.user_namespace else "no (host ids)"),
        ("UID map", id_map(sec.uid_map)),
        ("GID map", id_map(sec.gid_map)),
        ("Root filesystem", "read-only" if sec.readonly_rootfs else "read-write"),
        ("Seccomp", seccomp),
        ("No new privileges", "yes" if sec.no_new_privs else "no"),
        ("AppArmor", sec.apparmor or "-"),
        ("SELinux", sec.selinux or "-"),
        ("Effective capabilities", capabilities(sec.cap_effective)),
        ("Permitted capabilities", capabilities(sec.cap_permitted)),
        ("Bounding capabilities", capabilities(sec.cap_bounding)),
    ]
    if sec.cap_inheritable:
        out.append(("Inheritable capabilities", capabilities(sec.cap_inheritable)))
    if sec.cap_ambient:
        out.append(("Ambient capabilities", capabilities(sec.cap_ambient)))
    return out
