"""``debugtool inspect``: one container's runtime metadata, PID, namespaces, cgroup and root."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from debugtool.model import CgroupStats, SecurityContext
    from debugtool.target import Target

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="show one container's metadata, namespaces, cgroup and root",
        description="Show what debugtool knows of one container: the runtime's own metadata, "
        "its init PID (pinned), namespace inodes, cgroup paths, root filesystem, every "
        "runtime that knows it, the cgroup's usage and limits, and the security context "
        "(capabilities, seccomp, AppArmor/SELinux, user namespace, privileged-looking settings).",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help="id, id prefix, name, RUNTIME:NAME, pid:N or pod/NAME[/CONTAINER]",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import output
    from debugtool.runtimes import discover
    from debugtool.target import find, pin, require_privileges

    require_privileges()
    found = discover(all=True, timeout=args.timeout)
    for message in found.warnings:
        output.warn(message)
    container = find(args.target, found)
    record: dict = {"container": container}
    errors: dict[str, str] = {}
    if container.running:
        with pin(container) as target:
            record.update(
                pid=target.pid,
                start_time=target.start_time,
                namespaces=target.namespaces,
                cgroup=target.cgroup,
                root=target.root,
            )
            record.update(_sections(target, errors))
        if errors:
            record["errors"] = errors
            for section, sentence in errors.items():
                output.warn(f"{section}: {sentence}")
    runtime = found.runtime(container.runtime)
    if runtime is not None:
        try:
            record["runtime_inspect"] = runtime.inspect(container)
        except Exception as exc:  # noqa: BLE001 - show what we have, say what failed
            output.warn(f"{container.runtime}: inspect failed: {exc}")
    if args.json:
        output.emit_json(record)
        return 0
    c = container
    lines = [
        ("ID", c.id),
        ("Name", c.name),
        ("Runtime", c.runtime),
        ("Known to", ", ".join(c.backends)),
        ("Image", c.image or "-"),
        ("Status", c.status),
        ("PID", record.get("pid", "-")),
        ("Created", output.human_age(c.created)),
    ]
    if c.namespace:
        lines.append(("containerd namespace", c.namespace))
    if c.pod:
        lines += [
            ("Pod", c.pod),
            ("Pod namespace", c.pod_namespace),
            ("Pod container", c.k8s_container),
        ]
    if c.bundle:
        lines.append(("Bundle", c.bundle))
    if c.oci_root:
        lines.append(("OCI runtime root", f"{c.oci_runtime or 'runc'} --root {c.oci_root}"))
    if "root" in record:
        lines.append(("Root filesystem", record["root"]))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key + ':':<{width + 1}} {value}")
    if "namespaces" in record:
        print("Namespaces:")
        for ns, inode in record["namespaces"].items():
            print(f"  {ns:<7} {inode}")
        print("Cgroup:")
        for ctl, path in record["cgroup"].items():
            print(f"  {ctl or '(v2)'}: {path}")
    if "cgroup_stats" in record:
        _print_resources(record["cgroup_stats"])
    if "security" in record:
        _print_security(record["security"])
    if c.labels:
        print("Labels:")
        for key, value in sorted(c.labels.items()):
            print(f"  {key}={value}")
    return 0


def _sections(target: Target, errors: dict[str, str]) -> dict[str, Any]:
    """Collect the cgroup and security sections; a failure is recorded in ``errors``."""
    from debugtool.collect.cgroups import collect_cgroup
    from debugtool.collect.mounts import collect_mounts
    from debugtool.collect.security import collect_security
    from debugtool.errors import DebugtoolError

    out: dict[str, Any] = {}
    try:
        out["cgroup_stats"] = collect_cgroup(target)
    except DebugtoolError as exc:
        errors["cgroup"] = exc.for_people()
    try:
        mounts = collect_mounts(target)
    except DebugtoolError as exc:
        errors["mounts"] = exc.for_people()
        mounts = []
    try:
        out["security"] = collect_security(target, mounts=mounts)
    except DebugtoolError as exc:
        errors["security"] = exc.for_people()
    return out


def _print_resources(s: CgroupStats) -> None:
    from debugtool.output import human_size

    def limit(value: int | None, fmt: Any = str) -> str:
        return "unlimited" if value is None else fmt(value)

    print(f"Resources (cgroup {s.version or 'unknown'}):")
    print(
        f"  memory:   {human_size(s.memory_usage)} of {limit(s.memory_limit, human_size)}"
        f" (peak {human_size(s.memory_peak)}, OOM kills {_n(s.oom_kills)})"
    )
    cpu_limit = f"{s.cpu_limit:g} CPUs" if s.cpu_limit else "unlimited"
    used = f"{s.cpu_usage_ns / 1e9:.2f}s" if s.cpu_usage_ns is not None else "-"
    print(f"  cpu:      {used} used, limit {cpu_limit}, weight {_n(s.cpu_weight)}")
    if s.cpu_nr_periods is not None:
        throttled = f"{s.cpu_throttled_ns / 1e9:.2f}s" if s.cpu_throttled_ns is not None else "-"
        print(
            f"  throttled: {_n(s.cpu_nr_throttled)} of {_n(s.cpu_nr_periods)} periods ({throttled})"
        )
    print(f"  pids:     {_n(s.pids_current)} of {limit(s.pids_max)}")
    if s.io_read_bytes is not None or s.io_write_bytes is not None:
        print(
            f"  io:       read {human_size(s.io_read_bytes)}, written {human_size(s.io_write_bytes)}"
        )


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)


def _print_security(s: SecurityContext) -> None:
    def caps(names: list[str]) -> str:
        return ", ".join(n.removeprefix("CAP_").lower() for n in names) or "(none)"

    def idmap(m: list[tuple[int, int, int]]) -> str:
        return "; ".join(f"{a}->{b} x{c}" for a, b, c in m) or "-"

    print("Security:")
    print(f"  user namespace: {'yes' if s.user_namespace else 'no (host ids)'}")
    print(f"  uid map:        {idmap(s.uid_map)}")
    print(f"  gid map:        {idmap(s.gid_map)}")
    print(f"  effective caps: {caps(s.cap_effective)}")
    print(f"  permitted caps: {caps(s.cap_permitted)}")
    print(f"  bounding caps:  {caps(s.cap_bounding)}")
    if s.cap_inheritable:
        print(f"  inheritable:    {caps(s.cap_inheritable)}")
    if s.cap_ambient:
        print(f"  ambient caps:   {caps(s.cap_ambient)}")
    filters = f" ({s.seccomp_filters} filters)" if s.seccomp_filters else ""
    print(f"  seccomp:        {s.seccomp or 'unknown'}{filters}")
    print(f"  no_new_privs:   {'yes' if s.no_new_privs else 'no'}")
    print(f"  AppArmor:       {s.apparmor or '-'}")
    print(f"  SELinux:        {s.selinux or '-'}")
    print(f"  read-only root: {'yes' if s.readonly_rootfs else 'no'}")
    for warning in s.warnings:
        print(f"  ! {warning}")
