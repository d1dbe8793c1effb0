"""The host data of a real bundle (issue 15, part 5): every host collector recorded with a
status, its files in the bundle, ``bundle verify`` passing, secrets in a runtime config
redacted, and the navigation marking a container the kernel OOM-killed in and one with the
host's root mounted."""

from __future__ import annotations

import json
import os
import re
import socket
import tarfile
import time
from pathlib import Path

import harness
import pytest

from debugtool.bundle import hostdata, reader
from debugtool.bundle import manifest as mf

#: A busybox shell whose subshell fills a string past an 8 MiB limit: the kernel kills that
#: subshell, the container's own shell lives on. The subshell asks to be the OOM killer's first
#: choice (oom_score_adj 1000; raising it needs no privilege), so the init is never the victim.
OOM_SCRIPT = (
    "(echo 1000 > /proc/self/oom_score_adj; x=$(head -c 64m /dev/zero | tr '\\0' a)); "
    "echo survived; exec sleep 100000"
)
CONFIG_SECRETS = {
    "proxy": "ProxyPassw0rdInt77",
    "toml-password": "TomlPassw0rdInt88",
    "toml-token": "IdTok3nIntValue99",
}


def oom_kills_in_cgroup(pid: int) -> int:
    """The ``oom_kill`` count of the memory cgroup of host process ``pid`` (v1 or v2)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "memory":
            events = Path(f"/sys/fs/cgroup/memory{path}/memory.oom_control")
        elif controllers == "" and Path(f"/sys/fs/cgroup{path}/memory.events").exists():
            events = Path(f"/sys/fs/cgroup{path}/memory.events")
        else:
            continue
        for entry in events.read_text().splitlines():
            key, _, value = entry.partition(" ")
            if key == "oom_kill":
                return int(value)
    raise AssertionError(f"no memory cgroup with an oom_kill count for pid {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def started(module_containers: harness.Containers) -> dict[str, harness.Started]:
    port = free_port()
    found = {
        "oom": module_containers.docker(
            "--memory", "8m", "--memory-swap", "8m", cmd=("sh", "-c", OOM_SCRIPT)
        ),
        "risky": module_containers.docker("-v", "/:/host:ro"),
        "quiet": module_containers.docker("-p", f"127.0.0.1:{port}:8080"),
    }
    found["quiet"].extra["port"] = port
    oom = found["oom"]
    deadline = time.monotonic() + 60  # a guard, not a timed assertion
    while oom_kills_in_cgroup(oom.pid) < 1:
        assert time.monotonic() < deadline, "the container was never OOM-killed"
        time.sleep(0.1)
    # The kill is counted before the shell has reaped its subshell and echoed, and the daemon
    # copies that line into its log after that: wait for it rather than read once.
    while "survived" not in harness.run("docker", "logs", oom.id):
        assert time.monotonic() < deadline, "the container's shell did not survive the OOM kill"
        time.sleep(0.1)
    return found


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A daemon.json and a containerd config.toml with credentials in them, in a folder of
    their own (the bundle reads them through DEBUGTOOL_RUNTIME_CONFIGS; /etc is untouched)."""
    where = tmp_path_factory.mktemp("configs")
    daemon = where / "daemon.json"
    daemon.write_text(
        json.dumps(
            {
                "log-driver": "json-file",
                "proxies": {
                    "https-proxy": f"http://ops:{CONFIG_SECRETS['proxy']}@proxy.internal:3128"
                },
            }
        )
    )
    toml = where / "config.toml"
    toml.write_text(
        "version = 2\n"
        '[plugins."io.containerd.grpc.v1.cri".registry.configs."registry.internal".auth]\n'
        '  username = "deploy"\n'
        f'  password = "{CONFIG_SECRETS["toml-password"]}"\n'
        f'  identitytoken = "{CONFIG_SECRETS["toml-token"]}"\n'
    )
    return [daemon, toml]


@pytest.fixture(scope="module")
def bundle(
    started: dict[str, harness.Started],
    configs: list[Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    path = str(tmp_path_factory.mktemp("bundle") / "host.tar.gz")
    ids = [s.id for s in started.values()]
    env = {"DEBUGTOOL_RUNTIME_CONFIGS": ":".join(map(str, configs))}
    proc = harness.run_cli("bundle", *ids, "-o", path, "--json", timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return path


def members(path: str) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {
            info.name.split("/", 1)[1]: tar.extractfile(info).read()  # type: ignore[union-attr]
            for info in tar
            if info.isfile()
        }


def test_every_host_collector_has_a_status_and_its_files(bundle: str) -> None:
    b = reader.open_bundle(bundle)
    records = {r["name"]: r for r in b.collectors(None)}
    files = members(bundle)
    for name, *_ in hostdata.jobs(10.0, 2.0, True):
        record = records[name]
        assert record["status"] in (mf.OK, mf.SKIPPED, mf.TRUNCATED), record
        if record["status"] == mf.SKIPPED:
            assert record["error"].startswith("not available: "), record
            assert not record["files"]
        else:
            assert record["files"], record
        for rel in record["files"]:
            assert rel in files, rel
            assert b.manifest["files"][rel]["size"] == len(files[rel])
    for rel in (
        "host/kernel-log.txt",
        "host/oom-kills.json",
        "host/df.txt",
        "host/df.json",
        "host/sysctls.txt",
        "host/sysctls.json",
        "host/listening.json",
        "host/resources.json",
        "host/docker-info.json",
        "host/docker-events.jsonl",
        "host/netfilter/iptables-save.txt",
        "host/configs.json",
    ):
        assert rel in files, rel
    # This machine's daemons were started by hand and it keeps no journal: said, not failed.
    assert records["host/journal"]["status"] == mf.SKIPPED
    assert "dockerd (pid " in records["host/journal"]["error"]
    info = json.loads(files["host/docker-info.json"])
    assert info["DockerRootDir"] and info["ServerVersion"]
    assert "*filter" in files["host/netfilter/iptables-save.txt"].decode()
    sysctls = json.loads(files["host/sysctls.json"])
    assert sysctls["net.ipv4.ip_forward"] == "1"  # Docker turned it on
    df = json.loads(files["host/df.json"])
    assert any(d["path"] == "/var/lib/docker" and d["inodes"] for d in df)


def test_verify_passes(bundle: str, cli) -> None:
    res = cli("bundle", "verify", bundle)
    assert res.returncode == 0 and res.stdout.strip() == f"{bundle}: ok", res.stdout


def test_runtime_config_secrets_are_redacted(bundle: str, configs: list[Path]) -> None:
    files = members(bundle)
    for rel, data in files.items():
        for where, secret in CONFIG_SECRETS.items():
            assert secret.encode() not in data, f"{where} secret survived in {rel}"
    toml = files["host/config" + str(configs[1])].decode()
    assert 'username = "deploy"' in toml and 'password = "***REDACTED***"' in toml
    daemon = json.loads(files["host/config" + str(configs[0])])
    assert daemon["proxies"]["https-proxy"] == "http://ops:***REDACTED***@proxy.internal:3128"
    redactions = json.loads(files["redactions.json"])["redactions"]
    assert {r["file"] for r in redactions} >= {"host/config" + str(c) for c in configs}


def test_oom_kill_and_risky_mounts_are_marked(
    bundle: str, started: dict[str, harness.Started]
) -> None:
    b = reader.open_bundle(bundle)
    oom, risky, quiet = started["oom"], started["risky"], started["quiet"]
    kills = [k for k in b.oom_kills() if k["container_id"] == oom.id]
    # The kernel kills the subshell filling the string, or tr and head around it.
    assert kills and {k["process"] for k in kills} <= {"sh", "tr", "head"}
    assert all(k["constraint"] == "CONSTRAINT_MEMCG" for k in kills)
    marks = {m.kind: m for m in b.marks(oom.id)}
    assert "oom-killed" in marks
    assert "the cgroup counts" in marks["oom-killed"].detail
    assert f"pid {kills[-1]['pid']}" in marks["oom-killed"].detail
    assert [m.kind for m in b.marks(risky.id)] == ["risky-mounts"]
    assert "/host" in b.marks(risky.id)[0].detail
    assert b.marks(quiet.id) == []
    # The navigation of the report carries the same marks, on the right links.
    page = members(bundle)["report.html"].decode()
    nav = page[page.index("<nav>") : page.index("</nav>")]
    links = {
        m.group(1): m.group(2) for m in re.finditer(r'<a class="c" href="#([^"]+)">(.*?)</a>', nav)
    }
    by_dir = {c["id"]: c["dir"] for c in b.manifest["containers"]}
    assert 'class="mark mark-oom-killed"' in links[by_dir[oom.id]]
    assert 'class="mark mark-risky-mounts"' in links[by_dir[risky.id]]
    assert "mark" not in links[by_dir[quiet.id]]
    # The host's table of OOM kills names the container each happened in.
    kill = kills[-1]
    row = re.search(rf"<tr><td>[^<]*</td><td class=\"num\">{kill['pid']}</td>.*?</tr>", page)
    assert row and f"<td>{oom.name}</td>" in row.group(0)


def test_show_names_what_needs_attention(
    bundle: str, started: dict[str, harness.Started], cli
) -> None:
    shown = cli("bundle", "show", bundle)
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[0]: line for line in shown.stdout.splitlines() if line[:12].strip()}
    assert "ATTENTION" in shown.stdout
    assert rows[started["oom"].id[:12]].endswith("OOM killed")
    assert rows[started["risky"].id[:12]].endswith("risky mounts")
    assert rows[started["quiet"].id[:12]].endswith(" -")
    assert "OOM KILL (KERNEL LOG)" in shown.stdout
    as_json = json.loads(cli("bundle", "show", bundle, "--json").stdout)
    assert [m["kind"] for m in as_json["marks"][started["oom"].id]] == ["oom-killed"]
    assert any(k["container_id"] == started["oom"].id for k in as_json["oom_kills"])


def test_events_and_listening_sockets_of_the_host(
    bundle: str, started: dict[str, harness.Started]
) -> None:
    files = members(bundle)
    events = [json.loads(line) for line in files["host/docker-events.jsonl"].splitlines()]
    created = reader.open_bundle(bundle).captured_at
    # dockerd replays only the last 256 events it holds, so on a host as busy as this shared
    # one the containers' own events may already be gone: but these were made minutes ago,
    # so the replay is not empty, and it holds the last hour only.
    assert events and all(e["Type"] and e["Action"] for e in events)
    assert all(created - 3600 - 1 <= e["time"] <= created + 1 for e in events)
    quiet = started["quiet"]
    listening = json.loads(files["host/listening.json"])
    port = quiet.extra["port"]
    (published,) = [s for s in listening if s["local_port"] == port and s["protocol"] == "tcp"]
    assert published["local_address"] == "127.0.0.1" and published["state"] == "LISTEN"
    assert published["process"] == "docker-proxy" and published["pids"]


def test_the_tui_host_line_reads_the_bundles_host_section(bundle: str) -> None:
    """Offline, the TUI's host line (Source.host_load) comes from host/resources.json."""
    from debugtool.source import open_source

    with open_source(bundle) as source:
        load = source.host_load()
    assert load is not None
    assert load.load is not None and len(load.load) == 3
    assert load.cpus == os.cpu_count()
    assert load.memory_total and load.memory_total > 0
    assert load.uptime and load.uptime > 0
