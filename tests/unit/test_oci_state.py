"""runc and crun state parsing on captured (runc) and hand-written (crun) state directories."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from debugtool.errors import CommandNotInvokable, ExecUnsupported
from debugtool.model import Container
from debugtool.runtimes import merge
from debugtool.runtimes.base import ExecRequest
from debugtool.runtimes.oci import (
    CrunRuntime,
    RuncRuntime,
    StateRoot,
    liveness,
    namespace_of,
    parse_created,
    parse_runc_state,
    resolve_user,
    skim_runc_state,
    state_roots,
)

OCI = Path(__file__).parent.parent / "fixtures" / "oci"
DOCKER_ID = "9520e98a9b0eb24098d220bef2643dbc4811f0d4e89019ea3989abd9be9d3081"
PODMAN_ID = "160263e1d69a7e84f637fce1a58b3454bb8daaa9f5ccdaa3ca6a4d452534f7f6"


def fixture_stat(pid: int) -> tuple[str, int] | None:
    """The captured /proc/PID/stat of the fixtures' init processes (None: no such process)."""
    path = OCI / "proc" / f"{pid}.stat"
    if not path.exists():
        return None
    text = path.read_text()
    rest = text[text.rindex(")") + 2 :].split()
    return rest[0], int(rest[19])


def fixture_read(path: str) -> str | None:
    """Cgroup files of the fixtures: /sys/fs/cgroup/X is tests/fixtures/oci/cgroup/X."""
    prefix = "/sys/fs/cgroup/"
    local = OCI / "cgroup" / path[len(prefix) :] if path.startswith(prefix) else None
    return local.read_text() if local is not None and local.exists() else None


def runc(*roots: str) -> RuncRuntime:
    return RuncRuntime(roots=[str(OCI / r) for r in roots], stat_of=fixture_stat, read=fixture_read)


def crun(*roots: str) -> CrunRuntime:
    return CrunRuntime(roots=[str(OCI / r) for r in roots], stat_of=fixture_stat, read=fixture_read)


def by_id(containers: list[Container]) -> dict[str, Container]:
    return {c.id: c for c in containers}


# --- runc -------------------------------------------------------------------------------------


def test_runc_running_container_fields() -> None:
    found = by_id(runc("run/runc").list(all=True))
    c = found["dt-runc-e25ff20e46"]
    assert (c.runtime, c.name, c.status, c.pid) == ("runc", "dt-runc-e25ff20e46", "running", 8471)
    assert c.bundle == "/var/tmp/debugtool-test/bundles/dt-runc-e25ff20e46"
    assert c.rootfs == c.bundle + "/rootfs"
    assert c.oci_runtime == "runc" and c.oci_root == str(OCI / "run" / "runc")
    assert c.namespace == ""
    assert c.labels == {}  # runc's only label was bundle=..., which is not an annotation
    assert c.created == pytest.approx(1795705883.109729, abs=1e-3)
    meta = c.metadata["runc"]
    assert meta["init_process_start"] == 63489
    assert meta["state_dir"].endswith("/run/runc/dt-runc-e25ff20e46")


def test_runc_states_paused_created_stopped() -> None:
    found = by_id(runc("run/runc").list(all=True))
    assert found["dtcap-paused"].status == "paused"
    assert found["dtcap-paused"].pid == 12665
    assert found["dtcap-created"].status == "created"  # exec.fifo present
    assert found["dtcap-created"].pid == 12722
    stopped = found["dtcap-stopped"]  # its init is a zombie with the recorded start time
    assert stopped.status == "stopped"
    assert stopped.pid is None  # a dead container never hands out a PID to pin
    assert not stopped.running


def test_runc_list_without_all_leaves_stopped_out() -> None:
    ids = {c.id for c in runc("run/runc").list()}
    assert "dtcap-stopped" not in ids
    assert {"dt-runc-e25ff20e46", "dtcap-paused", "dtcap-created", PODMAN_ID} <= ids


def test_runc_annotations_become_labels() -> None:
    podman = by_id(runc("run/runc").list())[PODMAN_ID]
    assert podman.labels["io.container.manager"] == "libpod"
    assert podman.labels["io.kubernetes.cri-o.Created"] == "2026-11-26T15:11:23.472030648Z"
    assert "bundle" not in podman.labels
    assert podman.bundle.endswith(f"/overlay-containers/{PODMAN_ID}/userdata")


def test_docker_and_containerd_roots_carry_their_namespace() -> None:
    found = by_id(runc("run/docker/runtime-runc/moby", "run/containerd/runc/debugtool-test").list())
    docker = found[DOCKER_ID]
    assert docker.namespace == "moby" and docker.pid == 8542 and docker.status == "running"
    assert docker.bundle.startswith("/run/docker/containerd/daemon/io.containerd.runtime.v2.task")
    ctr = found["dt-ctr-3180f148cc"]
    assert ctr.namespace == "debugtool-test" and ctr.pid == 8615


def test_reused_pid_is_stopped() -> None:
    """A live process at the recorded PID but with another start time is not the container."""
    data = json.loads((OCI / "run" / "runc" / "dt-runc-e25ff20e46" / "state.json").read_text())
    root = StateRoot(str(OCI / "run" / "runc"))
    state_dir = str(OCI / "run" / "runc" / "dt-runc-e25ff20e46")
    c = parse_runc_state(data, root, state_dir, lambda pid: ("S", 63489 + 1), fixture_read)
    assert c.status == "stopped" and c.pid is None
    c = parse_runc_state(data, root, state_dir, lambda pid: None, fixture_read)
    assert c.status == "stopped"
    c = parse_runc_state(data, root, state_dir, lambda pid: ("S", 63489), fixture_read)
    assert c.status == "running" and c.pid == 8471


def test_awkward_runc_root_is_skipped_with_warnings() -> None:
    runtime = runc("runc-awkward")
    found = by_id(runtime.list(all=True))
    assert set(found) == {"oddtypes"}
    messages = " ".join(runtime.warnings)
    assert "broken/state.json: not valid JSON" in messages
    assert "noid/state.json: no container id" in messages
    assert "creating" not in messages and "stray-file" not in messages  # not errors, just skipped
    odd = found["oddtypes"]
    assert odd.status == "paused"  # cgroup v2 only: cgroup.freeze says 1
    assert odd.pid == 8471  # the start time written as a string still matches
    assert odd.bundle == "/srv/bundles/odd"
    assert odd.labels == {"empty": "", "a": "b=c"}
    assert odd.created == pytest.approx(1795705883.109729, abs=1e-3)  # +02:00 honoured


# --- crun -------------------------------------------------------------------------------------


def test_crun_status_files() -> None:
    found = by_id(crun("run/crun").list(all=True))
    assert set(found) == {
        "crun-web",
        "crun-paused",
        "crun-created",
        "crun-reused",
        "crun-zombie",
        "crun-gone",
        "crun-old",
    }  # .empty-directory is crun's own, not a container
    web = found["crun-web"]
    assert (web.runtime, web.status, web.pid, web.oci_runtime) == ("crun", "running", 21001, "crun")
    assert web.bundle == "/var/lib/crun-bundles/crun-web"
    assert web.rootfs == "/var/lib/crun-bundles/crun-web/rootfs"
    assert web.labels == {
        "org.opencontainers.image.title": "crun-web",
        "io.debugtool.fixture": "crun",
    }
    assert web.metadata["crun"]["owner"] == "root"
    assert web.metadata["crun"]["cgroup-path"] == "/crun-web"
    assert web.metadata["crun"]["hostname"] == "crun-web"
    # crun prints microseconds with %09ld: .000482113 is 482 microseconds, not 482 ms.
    assert web.created == pytest.approx(parse_created("2026-11-26T15:20:00Z"), abs=0.001)
    assert found["crun-paused"].status == "paused"
    assert found["crun-created"].status == "created"
    for cid in ("crun-reused", "crun-zombie", "crun-gone"):
        assert found[cid].status == "stopped", cid
        assert found[cid].pid is None
    old = found["crun-old"]  # no process-start-time recorded: a live PID is enough (crun's rule)
    assert old.status == "running" and old.pid == 21007
    assert "owner" in old.metadata["crun"] and not old.metadata["crun"]["owner"]


def test_crun_inspect_returns_status_and_config() -> None:
    runtime = crun("run/crun")
    web = by_id(runtime.list())["crun-web"]
    record = runtime.inspect(web)
    assert record["status"]["process-start-time"] == 90210
    assert record["config.json"]["hostname"] == "crun-web"


def test_runc_inspect_returns_the_whole_state() -> None:
    runtime = runc("run/runc")
    c = by_id(runtime.list())["dt-runc-e25ff20e46"]
    state = runtime.inspect(c)["state.json"]
    assert state["config"]["readonlyfs"] is True
    assert state["namespace_paths"]["NEWPID"] == "/proc/8471/ns/pid"


# --- roots, liveness, merge -------------------------------------------------------------------


def test_namespace_of_state_roots() -> None:
    assert namespace_of("/run/docker/runtime-runc/moby") == "moby"
    assert namespace_of("/run/containerd/runc/k8s.io/") == "k8s.io"
    assert namespace_of("/run/runc") == ""
    assert namespace_of("/run/crun") == ""
    assert namespace_of("/var/run/user/1000/runc") == ""


def test_state_roots_from_env_dedupes_and_drops_missing(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    env = f"{tmp_path / 'a'}::{tmp_path / 'missing'}:{tmp_path / 'a'}/"
    roots = state_roots([], env=env)
    assert [r.path for r in roots] == [str(tmp_path / "a")]


def test_liveness_rules() -> None:
    assert liveness(5, 100, lambda pid: ("S", 100))
    assert not liveness(5, 100, lambda pid: ("S", 101))
    assert not liveness(5, 100, lambda pid: ("Z", 100))
    assert not liveness(0, 100, lambda pid: ("S", 100))
    assert not liveness(None, 100, lambda pid: ("S", 100))
    assert liveness(5, 0, lambda pid: ("R", 7))  # no recorded start time


def test_read_regular_reads_a_file_at_its_size_and_refuses_the_rest(tmp_path: Path) -> None:
    import os

    from debugtool.runtimes.liveness import read_regular

    record = tmp_path / "config.v2.json"
    record.write_bytes(b'{"State":{}}' * 1000)
    assert read_regular(str(record), 12_000) == record.read_bytes()
    with pytest.raises(ValueError, match="larger than 11999 bytes"):
        read_regular(str(record), 11_999)
    os.mkfifo(tmp_path / "fifo")  # planted in a state directory: refused, never waited on
    with pytest.raises(ValueError, match="not a regular file"):
        read_regular(str(tmp_path / "fifo"), 1 << 20)
    (tmp_path / "link").symlink_to(record)
    with pytest.raises(OSError):
        read_regular(str(tmp_path / "link"), 1 << 20)


def test_merge_folds_runc_into_docker_and_namespace_scan_into_both() -> None:
    richness = {"docker": 100, "containerd": 50, "runc": 20, "none": 0}.get
    runc_record = by_id(runc("run/docker/runtime-runc/moby").list())[DOCKER_ID]
    runc_record.pidns = 4026532256
    docker = Container(id=DOCKER_ID, name="web", runtime="docker", status="running", pid=8542)
    docker.pidns = 4026532256
    sandbox = Container(id="pid-8542", name="sleep", runtime="none", status="running", pid=8542)
    sandbox.pidns = 4026532256
    # Another Docker container sharing the PID namespace (--pid container:web) stays separate.
    sharer = Container(id="f" * 64, name="sidecar", runtime="docker", status="running", pid=9000)
    sharer.pidns = 4026532256
    merged = merge([sandbox, runc_record, sharer, docker], lambda n: richness(n, 0))
    assert sorted(c.id for c in merged) == sorted([DOCKER_ID, "f" * 64])
    web = by_id(merged)[DOCKER_ID]
    assert by_id(merged)["f" * 64].backends == ["docker"]  # the sandbox folded into its init's
    assert web.runtime == "docker" and web.backends == ["docker", "runc"]
    assert web.oci_root.endswith("run/docker/runtime-runc/moby") and web.namespace == "moby"


def test_merge_folds_a_paused_container_sandbox() -> None:
    paused = Container(id="abc", name="abc", runtime="runc", status="paused", pid=10, pidns=77)
    sandbox = Container(id="pid-10", name="sleep", runtime="none", status="running", pid=10)
    sandbox.pidns = 77
    merged = merge([sandbox, paused], lambda n: {"runc": 20}.get(n, 0))
    assert [c.id for c in merged] == ["abc"]


# --- exec -------------------------------------------------------------------------------------

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\nwheel:x:10:app,other\naudio:x:29:other\n"


def test_resolve_user_like_docker() -> None:
    assert resolve_user("app", PASSWD, GROUP) == (1000, 1000, [10])
    assert resolve_user("app:wheel", PASSWD, GROUP) == (1000, 10, [])
    assert resolve_user("1000", PASSWD, GROUP) == (1000, 1000, [10])
    assert resolve_user("4242", PASSWD, GROUP) == (4242, 0, [])  # no entry needed for a number
    assert resolve_user("4242:7", None, None) == (4242, 7, [])
    with pytest.raises(CommandNotInvokable, match="unable to find user nobody"):
        resolve_user("nobody", PASSWD, GROUP)
    with pytest.raises(CommandNotInvokable, match="the image has none"):
        resolve_user("app", None, None)
    with pytest.raises(CommandNotInvokable, match="unable to find group staff"):
        resolve_user("app:staff", PASSWD, GROUP)


def test_exec_argv_shape() -> None:
    runtime = runc("run/runc")
    c = by_id(runtime.list())["dt-runc-e25ff20e46"]
    request = ExecRequest(
        argv=["/bin/sh", "-c", "id"], tty=True, user="0:0", workdir="/tmp", env={"A": "1"}
    )
    argv = list(runtime.exec_argv(c, request))
    assert argv[0].endswith("/runc")
    assert argv[1:] == [
        "--root",
        str(OCI / "run" / "runc"),
        "exec",
        "-t",
        "--user",
        "0:0",
        "--cwd",
        "/tmp",
        "--env",
        "A=1",
        "dt-runc-e25ff20e46",
        "/bin/sh",
        "-c",
        "id",
    ]
    stopped = by_id(runtime.list(all=True))["dtcap-stopped"]
    with pytest.raises(ExecUnsupported, match="not running"):
        runtime.exec_argv(stopped, ExecRequest(argv=["true"]))


# --- registry ---------------------------------------------------------------------------------


def test_entry_points_read_directly_match_importlib_metadata() -> None:
    """The fast entry_points.txt reader agrees with importlib.metadata on this environment."""
    from importlib import metadata

    from debugtool.runtimes import _entry_point_specs, runtime_specs

    for group in ("debugtool.runtimes", "console_scripts", "pytest11"):
        expected = {
            ep.name: ep.value.split("[")[0].strip() for ep in metadata.entry_points(group=group)
        }
        assert _entry_point_specs(group) == expected, group
    specs = runtime_specs()
    assert specs["runc"] == "debugtool.runtimes.oci:RuncRuntime"
    assert specs["none"] == "debugtool.runtimes.nsscan:NamespaceScan"
    # Built-in names alone are answered without reading any entry point.
    assert runtime_specs(["docker"]) == {"docker": "debugtool.runtimes.docker:DockerRuntime"}


# --- skimming runc state ----------------------------------------------------------------------


def test_skimmed_runc_state_equals_the_full_parse() -> None:
    """Decoding only the wanted keys gives the same container as decoding the whole file."""
    files = sorted(OCI.glob("run/**/state.json")) + [OCI / "runc-awkward/oddtypes/state.json"]
    assert len(files) >= 8
    for path in files:
        raw = path.read_bytes()
        skimmed = skim_runc_state(raw)
        assert skimmed is not None, path
        root = StateRoot(str(path.parent.parent))
        args = (root, str(path.parent), fixture_stat, fixture_read)
        assert parse_runc_state(skimmed, *args) == parse_runc_state(json.loads(raw), *args), path


def test_skim_declines_what_it_cannot_vouch_for() -> None:
    raw = (OCI / "run/runc/dt-runc-e25ff20e46/state.json").read_bytes()
    assert skim_runc_state(raw[:1500]) is None  # truncated: not one object
    assert skim_runc_state(b"\xff" + raw) is None  # not UTF-8
    broken = raw.replace(b'"init_process_start":63489', b'"init_process_start":6x3489', 1)
    assert skim_runc_state(broken) is None  # a value that does not decode
    # Not libcontainer's compact layout: left to the full decode, which reads it the same.
    spaced = json.dumps(json.loads(raw), indent=2).encode()
    assert skim_runc_state(spaced) is None
    root = OCI / "run" / "runc"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "spaced").mkdir()
        (Path(tmp) / "spaced" / "state.json").write_bytes(
            spaced.replace(b"dt-runc-e25ff20e46", b"spaced")
        )
        (c,) = RuncRuntime(roots=[tmp], stat_of=fixture_stat, read=fixture_read).list()
    assert (c.id, c.pid, c.status) == ("spaced", 8471, "running")
    assert str(root)  # the fixture root is untouched


def test_runc_and_crun_share_a_containerd_root(tmp_path: Path) -> None:
    """containerd's shim keeps crun's status files in its runc root when it runs crun: each
    backend takes only the directories holding its own state file."""
    import shutil

    root = tmp_path / "containerd" / "runc" / "k8s.io"
    shutil.copytree(OCI / "run/crun/crun-web", root / "crun-web")
    shutil.copytree(OCI / "run/runc/dt-runc-e25ff20e46", root / "dt-runc-e25ff20e46")
    runc_found = RuncRuntime(roots=[str(root)], stat_of=fixture_stat, read=fixture_read).list()
    crun_found = CrunRuntime(roots=[str(root)], stat_of=fixture_stat, read=fixture_read).list()
    assert [(c.id, c.runtime, c.namespace) for c in runc_found] == [
        ("dt-runc-e25ff20e46", "runc", "k8s.io")
    ]
    assert [(c.id, c.runtime, c.namespace) for c in crun_found] == [("crun-web", "crun", "k8s.io")]
    argv = CrunRuntime().exec_argv(crun_found[0], ExecRequest(argv=["true"]))
    assert list(argv)[1:] == ["--root", str(root), "exec", "crun-web", "true"]


def test_rfc3339_reads_what_datetime_reads() -> None:
    import datetime

    from debugtool.runtimes.liveness import parse_created, rfc3339

    for text in (
        "2026-12-06T04:44:47.123456Z",
        "2026-12-06T04:44:47Z",
        "1999-02-28T23:59:59.5+01:00",
        "2024-02-29T00:00:00-05:30",
        "1970-01-01T00:00:00Z",
        "2100-03-01T12:00:00.000001Z",
    ):
        expected = datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        assert abs(rfc3339(text) - expected) < 1e-6, text
    # runc writes nanoseconds, which datetime (3.11) cuts to microseconds.
    assert rfc3339("2026-12-06T04:44:47.123456789Z") % 1 == pytest.approx(0.123456789)
    for bad in ("", "yesterday", "2026-13-01T00:00:00Z", "2026-12-06T25:00:00Z", "2026-12-06Tx"):
        assert parse_created(bad) is None, bad
