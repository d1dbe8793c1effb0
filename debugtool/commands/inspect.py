"""``debugtool inspect``: one container's runtime metadata, PID, namespaces, cgroup and root."""

from __future__ import annotations

from debugtool.commands import TARGET_HELP, add_bundle_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from debugtool.argv import SubcommandsLike
    from debugtool.target import Target

ORDER = 20


def register(sub: SubcommandsLike) -> None:
    p = sub.add_parser(
        "inspect",
        help="show one container's metadata, namespaces, cgroup and root",
        description="Show what debugtool knows of one container: the runtime's own metadata, "
        "its init PID (pinned), namespace inodes, cgroup paths, root filesystem, every "
        "runtime that knows it, its published ports and who listens for each on the host "
        "(docker-proxy, conmon, or a NAT rule only), the cgroup's usage and limits, and the "
        "security context (capabilities, seccomp, AppArmor/SELinux, user namespace, "
        "privileged-looking settings). With --bundle FILE: what the bundle recorded (the "
        "runtime's metadata, cgroup paths, usage and security as captured); namespace inodes "
        "and the root filesystem's path are read live only, and it says so.",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help=TARGET_HELP,
    )
    add_bundle_option(p, "container")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugtool import output, render
    from debugtool.commands import open_source
    from debugtool.source import LiveSource

    with open_source(args) as source:
        container = source.find(args.target)
        record: dict = {"container": container}
        errors: dict[str, str] = {}
        if isinstance(source, LiveSource) and container.running:
            target = source.target(container)
            record.update(
                pid=target.pid,
                start_time=target.start_time,
                namespaces=target.namespaces,
                cgroup=target.cgroup,
                root=target.root,
            )
            record.update(_sections(target, errors))
        elif not source.live:  # a bundle: what its snapshot and raw files recorded
            snap = source.snapshot(container)
            record.update(pid=container.pid, cgroup_stats=snap.cgroup, security=snap.security)
            errors = {k: v for k, v in snap.errors.items() if k in ("cgroup", "security")}
            # The host listeners as the capture found them, else the runtime's record alone.
            record["ports"] = snap.network.ports or container.ports
            record.update(_from_bundle(source, container))
        elif container.status not in ("running", "paused"):
            # Stopped: where its files are (what 'console' and 'bundle' read them from).
            from debugtool.storage import StorageError, layers_of

            try:
                record["storage"] = layers_of(container, args.timeout)
            except StorageError as exc:
                errors["storage"] = exc.message
        if "ports" not in record:
            from debugtool.collect.ports import find_listeners

            record["ports"] = (
                find_listeners(container.ports) if container.running else container.ports
            )
        if errors:
            record["errors"] = errors
            for section, sentence in errors.items():
                output.warn(f"{section}: {sentence}")
        try:
            inspected = source.runtime_inspect(container)
        except Exception as exc:  # noqa: BLE001 - show what we have, say what failed
            output.warn(f"{container.runtime}: inspect failed: {exc}")
        else:
            if inspected:
                record["runtime_inspect"] = inspected
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
        ("Host PID", record.get("pid", "-")),
        (
            "Created",
            f"{output.utc_text(c.created)} ({output.human_age(c.created)})" if c.created else "-",
        ),
    ]
    lines += last_state_lines(c)
    if c.owner:  # a rootless container: the host user whose runtime runs it
        lines.insert(3, ("Owner", c.owner))
    if c.namespace:
        lines.append(("containerd namespace", c.namespace))
    if c.pod:
        lines += [
            ("Pod", c.pod),
            ("Pod namespace", c.pod_namespace or "-"),  # podman pods have none
            ("Pod container", c.k8s_container or "-"),  # a CRI sandbox has none
        ]
    if c.bundle:
        lines.append(("Bundle", c.bundle))
    if c.oci_root:
        lines.append(("OCI runtime root", f"{c.oci_runtime or 'runc'} --root {c.oci_root}"))
    if "root" in record:
        lines.append(("Root filesystem", record["root"]))
    if "storage" in record:
        layers = record["storage"]
        lines.append(("Files (stopped)", f"{layers.driver} layers, from {layers.source}"))
        lines += [("  container layer", layers.upper)] if layers.upper else []
        lines += [("  image layer", path) for path in layers.lowers]
    # Names, labels, paths: the runtime's record of the container and the container's own
    # cgroup, all of which its creator or its root can fill with control characters.
    show = output.printable
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key + ':':<{width + 1}} {show(str(value))}")
    if "namespaces" in record:
        print("Namespaces:")
        for ns, inode in record["namespaces"].items():
            print(f"  {ns:<7} {inode}")
    if "cgroup" in record:
        print("Cgroup:")
        for ctl, path in record["cgroup"].items():
            print(f"  {show(ctl) or '(v2)'}: {show(path)}")
    if record["ports"]:
        render.ports(record["ports"], title="Ports (published on the host):")
    if "cgroup_stats" in record:
        render.cgroup(record["cgroup_stats"])
    if "security" in record:
        render.security(record["security"])
    if c.labels:
        print("Labels:")
        for key, value in sorted(c.labels.items()):
            print(f"  {show(key)}={show(value)}")
    if record.get("not_in_bundle"):
        print(f"Not in a bundle: {', '.join(record['not_in_bundle'])} (read live only).")
    return 0


def last_state_lines(c: Any) -> list[tuple[str, Any]]:
    """Return inspect's lines of a container's last state: when its latest run started and
    the last one finished, its last exit (and whether the kernel OOM-killed it), its restarts,
    and for a CRI container its attempt and how the previous attempt ended. Nothing for a
    runtime that keeps no such record (runc, crun, a bare sandbox)."""
    from debugtool.output import human_age, utc_text
    from debugtool.views.containers import crash_looping, exit_text

    def moment(epoch: float | None) -> str:
        return f"{utc_text(epoch)} ({human_age(epoch)})" if epoch else "-"

    lines: list[tuple[str, Any]] = []
    if c.started_at or c.finished_at:
        lines.append(("Started", moment(c.started_at)))
        lines.append(("Finished", moment(c.finished_at)))
    if c.exit_code is not None or c.oom_killed:
        text = exit_text((c.exit_code, c.oom_killed))
        if c.oom_killed:
            text = text.replace("OOM", "(OOM-killed: the kernel killed it for memory)")
        lines.append(("Last exit", text))
    if c.restart_count is not None:
        count = f"{c.restart_count}"
        if crash_looping(c):
            count += " (crash-looping)"
        lines.append(("Restarts", count))
    if c.attempt is not None:
        lines.append(("Attempt", c.attempt))
    if c.previous is not None:
        p = c.previous
        ended = exit_text((p.exit_code, p.oom_killed)) if p.exit_code is not None else "-"
        words = [f"attempt {p.attempt}" if p.attempt is not None else "the run before"]
        words.append(f"exited {ended}")
        if p.reason:
            words.append(f"({p.reason})")
        if p.finished_at:
            words.append(f"at {utc_text(p.finished_at)}")
        if p.container_id:
            words.append(f"as container {p.container_id[:12]}")
        lines.append(("Previous attempt", " ".join(words)))
    return lines


#: What inspect shows live that a bundle does not keep.
_LIVE_ONLY = ("namespace inodes", "root filesystem path")


def _from_bundle(source: Any, container: Any) -> dict[str, Any]:
    """Return what a bundle holds of what inspect shows live: the init's cgroup paths (its
    captured /proc/PID/cgroup), and the names of what it lacks (``not_in_bundle``)."""
    from debugtool import procfs
    from debugtool.errors import DebugtoolError

    out: dict[str, Any] = {"not_in_bundle": list(_LIVE_ONLY)}
    try:
        text = source.bundle.proc_file(container.id, "cgroup")
    except DebugtoolError:
        text = None
    if text:
        out["cgroup"] = procfs.parse_cgroup(text)
    else:
        out["not_in_bundle"].append("cgroup paths")
    return out


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
