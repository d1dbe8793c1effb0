"""The host data of a bundle (issue 15, part 5): the kernel log's parser and its OOM kills,
journals, sysctls, df through statvfs, iptables-save, listening sockets, runtime configs and
their redaction, the marks the report and ``bundle show`` put on containers, and a host tool
that hangs (a stub first on PATH, as fault injection)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from debugtool.bundle import hostdata
from debugtool.bundle import manifest as mf
from debugtool.bundle.capture import Capture, Options
from debugtool.bundle.collectors import CollectorRun, NothingToCollect
from debugtool.bundle.reader import Archive, Bundle
from debugtool.bundle.redact import MASK, Redactor
from debugtool.model import Container, to_dict
from debugtool.snapshot import CgroupStats, Mount, Snapshot

FIXTURES = Path(__file__).parent.parent / "fixtures"
BUNDLE = FIXTURES / "bundle"
DOCKER_V1 = "d8ddbd9d500118b938fe6cb2a6dbdb3c32e0f259d9d9a0b0970c1e36576f88f4"
DOCKER_SCOPE = "3f1c0a2b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
CRI = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"


def stub(directory: Path, name: str, script: str) -> Path:
    """A program ``name`` in ``directory`` (put first on PATH by the test)."""
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


# --- the kernel log ---------------------------------------------------------------------------


def test_kmsg_records_levels_times_and_continuation_lines() -> None:
    messages = hostdata.parse_kernel_log((BUNDLE / "kmsg-oom.txt").read_text())
    first = messages[0]
    assert (first.level, first.usec, first.text) == (
        6,
        17555697996,
        "eth0: renamed from veth04a4cd3",
    )
    invoked = next(m for m in messages if "invoked oom-killer" in m.text)
    assert invoked.level == 4 and invoked.text.startswith("head invoked oom-killer: gfp_mask=")
    # The USB device's " SUBSYSTEM=usb" and " DEVICE=c189:1" are properties, not messages.
    assert not any("SUBSYSTEM=" in m.text or "DEVICE=" in m.text for m in messages)
    assert messages[-1].text == "docker0: port 1(veth3b96ea9) entered disabled state"


def test_oom_kills_of_every_shape_the_kernel_writes() -> None:
    messages = hostdata.parse_kernel_log((BUNDLE / "kmsg-oom.txt").read_text())
    kills = hostdata.oom_kills(messages, boot=1_796_523_263.0)
    assert [(k.pid, k.process) for k in kills] == [
        (30385, "sh"),  # Docker, cgroup v1 (captured on this kind of host)
        (4242, "python3"),  # Docker under systemd, cgroup v2
        (5151, "java"),  # a Kubernetes pod's container under containerd
        (7373, "stress-ng-vm"),  # the host's own memory ran out
        (8080, "nginx"),  # a kernel before 4.19: no oom-kill: line, Kill then Killed
    ]
    docker, scope, cri, host, old = kills
    assert docker.memcg == f"/docker/{DOCKER_V1}" and docker.container_id == DOCKER_V1
    assert docker.constraint == "CONSTRAINT_MEMCG" and docker.uid == 0
    assert (docker.anon_rss_kb, docker.total_vm_kb) == (7296, 11872)
    assert docker.usec == 17555809354
    assert docker.at == pytest.approx(1_796_523_263.0 + 17555.809354)
    assert docker.message.startswith("Memory cgroup out of memory: Killed process 30385 (sh)")
    assert scope.container_id == DOCKER_SCOPE and scope.uid == 1000
    assert cri.container_id == CRI
    assert cri.oom_memcg.endswith("pod1b2c3d4e_5f6a_7b8c_9d0e_1f2a3b4c5d6e.slice")
    assert host.constraint == "CONSTRAINT_NONE" and host.container_id == ""
    assert host.memcg == "/user.slice/user-1000.slice/session-3.scope"
    assert old.anon_rss_kb == 32768 and old.message.startswith("Killed process 8080 (nginx)")


def test_oom_kills_from_dmesg_and_dmesg_raw() -> None:
    messages = hostdata.parse_kernel_log((BUNDLE / "dmesg-oom.txt").read_text())
    assert messages[0].usec == 17872443175 and messages[0].level == 6
    (kill,) = hostdata.oom_kills(messages)
    assert (kill.pid, kill.process, kill.anon_rss_kb) == (9665, "sh", 7040)
    assert kill.container_id == "edeee4bde61756fd3596a673c240ac9f04bd64657e621257ca648848ee8134ac"
    raw = "<3>[17872.443193] Memory cgroup out of memory: Killed process 9665 (sh) total-vm:1kB"
    (message,) = hostdata.parse_kernel_log(raw)
    assert (message.level, message.usec) == (3, 17872443193)


def test_kernel_log_text_gives_seconds_and_utc() -> None:
    messages = hostdata.parse_kernel_log("4,1,1500000,-;hello\nno header at all\n")
    text = hostdata.kernel_log_text(messages, boot=0.0)
    assert text.splitlines() == [
        "[     1.500000] 1970-01-01T00:00:01Z warn   hello",
        "[            ?]                      info   no header at all",
    ]


def test_read_kmsg_returns_without_waiting_for_new_records() -> None:
    if not os.access(hostdata.KMSG, os.R_OK):
        pytest.skip("/dev/kmsg is not readable here")
    raw, lost, cut = hostdata.read_kmsg(limit=1 << 20)
    assert raw.endswith(b"\n") and len(raw) <= 1 << 20
    assert hostdata.parse_kernel_log(raw.decode(errors="replace"))


def test_kernel_log_without_kmsg_reads_dmesg_or_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub(tmp_path, "dmesg", f"exec {shutil.which('cat')} {BUNDLE / 'dmesg-oom.txt'}\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    files = hostdata.host_kernel_log(CollectorRun(), kmsg=str(tmp_path / "no-kmsg"))
    assert "the kernel log as dmesg --raw gave it" in files["host/kernel-log.txt"].decode()
    (kill,) = json.loads(files["host/oom-kills.json"])
    assert kill["pid"] == 9665
    (tmp_path / "dmesg").unlink()
    with pytest.raises(NothingToCollect) as caught:
        hostdata.host_kernel_log(CollectorRun(), kmsg=str(tmp_path / "no-kmsg"))
    assert caught.value.message.startswith("not available: ")
    assert "there is no dmesg program" in caught.value.message


# --- journals -----------------------------------------------------------------------------------


def test_journal_lines_and_units() -> None:
    assert hostdata.journal_lines((BUNDLE / "journal-docker.txt").read_bytes()) == 8
    assert hostdata.journal_lines((BUNDLE / "journal-none.txt").read_bytes()) == 0
    assert hostdata.unit_of("0::/system.slice/docker.service\n") == "docker.service"
    hybrid = "4:memory:/system.slice/containerd.service\n1:name=systemd:/system.slice/containerd.service\n0::/\n"
    assert hostdata.unit_of(hybrid) == "containerd.service"
    assert hostdata.unit_of("4:memory:/process_api/5984a2fd\n0::/\n") == ""


def test_journals_through_journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "journal" / "6c1c2bd4a3b44a5f"
    journal.mkdir(parents=True)
    (journal / "system.journal").write_bytes(b"LPKSHHRH")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    stub(
        bin_dir,
        "journalctl",
        f'echo "$@" >> {calls}\n'
        f'if [ "$2" = docker.service ]; then cat {BUNDLE / "journal-docker.txt"}; '
        f"else cat {BUNDLE / 'journal-none.txt'}; fi\n",
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    files = hostdata.host_journals(CollectorRun(), 2000, 5.0, dirs=(str(tmp_path / "journal"),))
    assert files["host/journal/docker.service.log"] == (BUNDLE / "journal-docker.txt").read_bytes()
    summary = files["host/journal.txt"].decode().splitlines()
    assert summary[0] == "docker.service: 8 line(s)"
    assert any(line.startswith("kubelet.service: no entries") for line in summary)
    assert "-u kubelet.service -n 2000 --no-pager -o short-iso" in calls.read_text()


def test_no_journal_is_one_sentence_naming_daemons_started_by_hand(tmp_path: Path) -> None:
    with pytest.raises(NothingToCollect) as caught:
        hostdata.host_journals(CollectorRun(), dirs=(str(tmp_path),))
    message = caught.value.message
    assert message.startswith("not available: ") and message.endswith(".")
    hand = [d for d in hostdata.running_daemons() if not d.unit]
    for daemon in hand:  # this test machine's dockerd and containerd run without units
        assert f"{daemon.name} (pid {daemon.pid}) runs outside any systemd unit" in message


# --- sysctls ------------------------------------------------------------------------------------


def test_sysctls_read_from_a_tree(tmp_path: Path) -> None:
    for name, value in {
        "net.ipv4.ip_forward": "1\n",
        "net.ipv4.ip_local_port_range": "32768\t60999\n",
        "fs.inotify.max_user_watches": "192914\n",
        "vm.overcommit_memory": "0\n",
    }.items():
        path = tmp_path.joinpath(*name.split("."))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    names = [
        "net.ipv4.ip_forward",
        "net.ipv4.ip_local_port_range",
        "fs.inotify.max_user_watches",
        "vm.overcommit_memory",
        "net.bridge.bridge-nf-call-iptables",
        "user.max_user_namespaces",
    ]
    values = hostdata.read_sysctls(names, root=str(tmp_path))
    assert values["net.ipv4.ip_local_port_range"] == "32768 60999"
    assert values["net.bridge.bridge-nf-call-iptables"] is None
    assert hostdata.sysctl_text(values).splitlines() == [
        "net.ipv4.ip_forward = 1",
        "net.ipv4.ip_local_port_range = 32768 60999",
        "fs.inotify.max_user_watches = 192914",
        "vm.overcommit_memory = 0",
        "# net.bridge.bridge-nf-call-iptables: not present on this kernel (the br_netfilter "
        "module is not loaded)",
        "# user.max_user_namespaces: not present on this kernel",
    ]


def test_the_hosts_sysctls() -> None:
    values = hostdata.read_sysctls()
    assert set(values) == set(hostdata.SYSCTLS)
    assert values["kernel.pid_max"] and int(values["kernel.pid_max"]) > 0


# --- df -----------------------------------------------------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A 1 MiB tmpfs with 64 inodes, mounted for the test and unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = tmp_path / "mnt"
    where.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=64", "dt-df-test", str(where)],
        check=True,
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_disk_usage_of_a_tmpfs_through_statvfs(small_tmpfs: Path) -> None:
    for i in range(3):
        (small_tmpfs / f"f{i}").write_bytes(b"x" * 4096 * (i + 1))
    usage = hostdata.disk_usage(str(small_tmpfs))
    assert usage.size == 1 << 20
    assert usage.used == 6 * 4096  # 4 + 8 + 12 KiB in whole pages
    assert usage.available == usage.size - usage.used
    assert (usage.inodes, usage.inodes_used) == (64, 4)  # the root directory and three files
    assert usage.use_percent == 3  # 24 KiB of 1 MiB, rounded up as df rounds it
    assert usage.inode_percent == 7
    mounts = hostdata.procfs.parse_mountinfo(hostdata.procfs.read_text("self", "mountinfo"))
    (line,) = [
        u for u in hostdata._statvfs_all(hostdata.df_mounts(mounts, [])) if u.source == "dt-df-test"
    ]
    assert line.mountpoint == str(small_tmpfs) and line.fstype == "tmpfs" and line.inodes == 64
    assert "dt-df-test" in hostdata.df_text([line])


def test_df_mounts_of_a_host_with_containers() -> None:
    mounts = hostdata.procfs.parse_mountinfo((FIXTURES / "proc" / "host-mountinfo").read_text())
    chosen = hostdata.df_mounts(mounts, ["/var/lib/docker", "/var/lib/containerd", "/run"])
    assert [(path, m.mountpoint) for path, m in chosen] == [
        ("/", "/"),
        ("/dev/shm", "/dev/shm"),
        ("/mnt/sandboxing/model_tools_env/v1/python", "/mnt/sandboxing/model_tools_env/v1/python"),
        ("/var/lib/docker", "/var/lib/docker"),
        ("/var/lib/containerd", "/"),
        ("/run", "/"),
    ]
    # The top of the two tmpfs stacked on /dev/shm; no overlay, nsfs, cgroup or proc.
    assert chosen[1][1].device == (0, 27)


def test_a_statvfs_that_fails_is_a_line_not_an_error(tmp_path: Path) -> None:
    mounts = hostdata.procfs.parse_mountinfo(f"1 0 0:99 / {tmp_path}/gone rw - ext4 /dev/x rw\n")
    (usage,) = hostdata._statvfs_all([(f"{tmp_path}/gone", mounts[0])])
    assert usage.error == "statvfs failed: No such file or directory"
    assert "statvfs failed" in hostdata.df_text([usage])


# --- netfilter ----------------------------------------------------------------------------------


def test_iptables_save_summary() -> None:
    tables = hostdata.iptables_summary((BUNDLE / "iptables-save.txt").read_text())
    assert tables == {"filter": {"chains": 9, "rules": 17}, "nat": {"chains": 10, "rules": 20}}
    assert hostdata.iptables_summary("") == {}


def test_an_absent_tool_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NothingToCollect) as caught:
        hostdata.host_netfilter(CollectorRun(), "nft", 5.0)
    assert caught.value.message == "not available: there is no nft on this host."


def test_a_hanging_iptables_save_times_out_and_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: an iptables-save that never finishes (a stub first on PATH). The
    capture records the collector as timed out, kills the program by its pid, and goes on."""
    pidfile = tmp_path / "pid"
    stub(tmp_path, "iptables-save", f"echo $$ > {pidfile}\nexec sleep 600\n")
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    capture = Capture(Options(targets=["x"], collector_timeout=1.0))
    ok = capture.run_collector("host/iptables", hostdata.host_netfilter, "iptables", 600.0)
    assert not ok
    (result,) = capture.cap.results
    assert result.status == mf.TIMEOUT and result.error == "did not finish within 1s"
    pid = int(pidfile.read_text())
    for _ in range(200):  # the kill is sent before run_collector returns; reaping may lag
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"the hanging iptables-save (pid {pid}) was not killed")
    # The next collector runs as usual.
    assert capture.run_collector("host/sysctls", hostdata.host_sysctls)
    assert capture.cap.results[-1].status == mf.OK


# --- listening sockets --------------------------------------------------------------------------


def test_listening_sockets_of_host_tables() -> None:
    tables = {
        p: (FIXTURES / "net" / "host" / p).read_text() for p in ("tcp", "tcp6", "udp", "udp6")
    }
    sockets = hostdata.listening_sockets(tables)
    assert [(s.protocol, s.local_address, s.local_port, s.state) for s in sockets] == [
        ("tcp", "0.0.0.0", 2024, "LISTEN"),
        ("tcp", "127.0.0.1", 18391, "LISTEN"),
        ("tcp", "127.0.0.1", 18393, "LISTEN"),
        ("tcp", "127.0.0.1", 39659, "LISTEN"),
        ("udp", "0.0.0.0", 18392, "UNCONN"),
        ("udp6", "::", 18392, "UNCONN"),
    ]
    container = {"tcp": (FIXTURES / "net" / "docker" / "tcp").read_text()}
    (only,) = hostdata.listening_sockets(container)  # the established one is left out
    assert (only.local_address, only.local_port) == ("127.0.0.1", 8080)


def test_the_hosts_listening_sockets_name_their_processes() -> None:
    files = hostdata.host_listening(CollectorRun())
    sockets = json.loads(files["host/listening.json"])
    assert sockets and all(s["state"] in ("LISTEN", "UNCONN") for s in sockets)
    containerd = [s for s in sockets if s["process"] == "containerd"]
    assert containerd or not hostdata.running_daemons(["containerd"])


# --- runtime configs and their redaction --------------------------------------------------------

DAEMON_JSON = {
    "data-root": "/var/lib/docker",
    "log-driver": "json-file",
    "proxies": {"http-proxy": "http://proxyuser:ProxyPassw0rd77@proxy.internal:3128"},
    "registry-mirrors": ["https://mirror.internal"],
}
CONFIG_TOML = """version = 2
[plugins."io.containerd.grpc.v1.cri".registry.configs."registry.internal".auth]
  username = "deploy"
  password = "TomlPassw0rd88"
  auth = "ZGVwbG95OlRvbWxQYXNzdzByZDg4"
  identitytoken = "IdTok3nValue99xyz"
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
"""
CONFIG_SECRETS = (
    "ProxyPassw0rd77",
    "TomlPassw0rd88",
    "ZGVwbG95OlRvbWxQYXNzdzByZDg4",
    "IdTok3nValue99xyz",
)


def test_runtime_configs_are_kept_and_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = tmp_path / "etc" / "docker" / "daemon.json"
    daemon.parent.mkdir(parents=True)
    daemon.write_text(json.dumps(DAEMON_JSON))
    toml = tmp_path / "config.toml"
    toml.write_text(CONFIG_TOML)
    (tmp_path / "a-directory").mkdir()
    paths = [daemon, toml, tmp_path / "missing.conf", tmp_path / "a-directory"]
    monkeypatch.setenv("DEBUGTOOL_RUNTIME_CONFIGS", ":".join(map(str, paths)))
    files = hostdata.host_runtime_configs(CollectorRun())
    kept = {rel: data for rel, data in files.items() if rel.startswith("host/config/")}
    assert set(kept) == {"host/config" + str(daemon), "host/config" + str(toml)}
    found = json.loads(files["host/configs.json"])
    assert found[str(tmp_path / "missing.conf")] == "absent"
    assert found[str(tmp_path / "a-directory")].startswith("unreadable: ")
    redactor = Redactor()
    redacted = {rel: redactor.first_pass(rel, data) for rel, data in kept.items()}
    text = b"".join(redacted.values()).decode()
    for secret in CONFIG_SECRETS:
        assert secret not in text
    assert 'username = "deploy"' in text and 'snapshotter = "overlayfs"' in text
    assert f'password = "{MASK}"' in text
    doc = json.loads(redacted["host/config" + str(daemon)])
    assert doc["proxies"]["http-proxy"] == f"http://proxyuser:{MASK}@proxy.internal:3128"
    assert doc["data-root"] == "/var/lib/docker"


def test_no_runtime_config_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUGTOOL_RUNTIME_CONFIGS", str(tmp_path / "none.json"))
    with pytest.raises(NothingToCollect) as caught:
        hostdata.host_runtime_configs(CollectorRun())
    assert (
        caught.value.message
        == "not available: none of the runtime configs exists here (looked for 1)."
    )


# --- the host at a glance -----------------------------------------------------------------------


def test_cpu_model() -> None:
    assert hostdata.cpu_model("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n") == (
        "Intel(R) Xeon(R) Processor"
    )
    assert hostdata.cpu_model("processor : 0\nHardware : BCM2835\n") == "BCM2835"
    assert hostdata.cpu_model("") == ""


def test_host_resources() -> None:
    doc = json.loads(hostdata.host_resources(CollectorRun(), sample=0.05)["host/resources.json"])
    assert doc["cpu"]["logical"] == os.cpu_count()
    assert doc["memory"]["total"] > 0 and 0 <= doc["memory"]["percent"] <= 100
    root = next(d for d in doc["disks"] if d["mountpoint"] == "/")
    assert root["inodes"] > 0 and root["inodes_used"] > 0
    assert "lo" in doc["network"] and doc["uptime_seconds"] > 0
    assert doc["boot_time"] < time.time()


# --- marks on containers ------------------------------------------------------------------------

ID = "ab" * 32


def mount(mountpoint: str, risks: list[str] | None = None) -> Mount:
    return Mount(mount_id=1, parent_id=0, mountpoint=mountpoint, fstype="ext4", risks=risks or [])


def bundle_of(stats: CgroupStats, mounts: list[Mount], kills: object) -> Bundle:
    """A bundle held in memory, read as the report reads one being written."""
    web = Container(id=ID, name="web", runtime="docker", status="running", pid=42)
    snap = Snapshot(container=web, taken_at=1.0, mounts=mounts, cgroup=stats)
    folder = "containers/docker-web-abababababab"
    files = {
        f"{folder}/container.json": json.dumps(to_dict(web)).encode(),
        f"{folder}/snapshot.json": snap.to_json().encode(),
        "host/oom-kills.json": json.dumps(kills).encode(),
    }
    manifest = {
        "containers": [
            {
                "id": ID,
                "name": "web",
                "runtime": "docker",
                "status": "running",
                "dir": "docker-web-abababababab",
            }  # fmt: skip
        ],
        "collectors": [],
    }
    archive = Archive(root="r", members=files, order=list(files), manifest=manifest,
                      sizes={k: len(v) for k, v in files.items()})  # fmt: skip
    return Bundle("test", archive)


def test_marks_risky_mounts_throttling_and_oom_kills() -> None:
    stats = CgroupStats(version="v2", cpu_nr_periods=100, cpu_nr_throttled=31, oom_kills=0,
                        paths={"unified": "/sys/fs/cgroup/system.slice/docker-web.scope"})  # fmt: skip
    mounts = [mount("/host", ["host root"]), mount("/")]
    kills = [
        {"pid": 7, "process": "java", "memcg": "/system.slice/docker-web.scope"},
        {"pid": 8, "process": "other", "container_id": "cd" * 32},
        {"pid": "not a number", "process": "x"},  # a bundle from anyone: left out
        "garbage",
    ]
    bundle = bundle_of(stats, mounts, kills)
    marks = bundle.marks(ID)
    assert [m.kind for m in marks] == ["risky-mounts", "cpu-throttled", "oom-killed"]
    assert marks[0].detail == "1 risky: /host"
    assert marks[1].detail == "throttled in 31 of 100 CPU periods (cgroup cpu.stat)"
    assert marks[2].detail == "the kernel log names java (pid 7)"
    assert [k["pid"] for k in bundle.oom_kills()] == [7, 8]


def test_no_marks_on_a_quiet_container_and_the_cgroups_own_count() -> None:
    quiet = bundle_of(CgroupStats(version="v1", cpu_nr_throttled=0), [mount("/")], {})
    assert quiet.marks(ID) == [] and quiet.oom_kills() == []
    counted = bundle_of(CgroupStats(version="v1", oom_kills=2), [], [])
    (mark,) = counted.marks(ID)
    assert mark.detail == "the cgroup counts 2 OOM kill(s)"


def test_the_report_marks_the_navigation() -> None:
    from debugtool.bundle import report

    stats = CgroupStats(version="v1", oom_kills=1, cpu_nr_throttled=3)
    page = report.page(bundle_of(stats, [mount("/h", ["docker.sock"])], [])).decode()
    nav = page[page.index("<nav>") : page.index("</nav>")]
    for kind, label in (("risky-mounts", "risky mounts"), ("cpu-throttled", "CPU throttled"),
                        ("oom-killed", "OOM killed")):  # fmt: skip
        assert f'<span class="mark mark-{kind}"' in nav and f">{label}</span>" in nav
