"""Issue 19 on real Docker containers: ``bundle redact`` of a written bundle with a rules file,
``--pseudonymise`` across members with a local 0600 mapping, ``--since`` applied alike to a
container's logs and the kernel log, and ``--max-log-bytes`` keeping the newest lines with the
cut recorded in the manifest."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest
from harness import run_cli


def members(path: Path) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        for info in tar:
            handle = tar.extractfile(info) if info.isfile() else None
            yield info.name, handle.read() if handle else b""


def member(path: Path, suffix: str) -> bytes:
    found = [data for name, data in members(path) if name.endswith(suffix)]
    assert len(found) == 1, f"{suffix}: {len(found)} members"
    return found[0]


def manifest(path: Path) -> dict:
    return json.loads(member(path, "/manifest.json"))


def bundle(*args: str) -> None:
    proc = run_cli("bundle", *args, timeout=180)
    assert proc.returncode == 0, proc.stderr


# --- bundle redact ----------------------------------------------------------------------------

# No key, no known shape: the redactor of the day lets it through; a rules file names it.
OPAQUE = "Zx9Kq2Lm7Vb3Np-rotated"


def test_bundle_redact_masks_what_a_rules_file_names(
    containers: harness.Containers, tmp_path: Path
) -> None:
    c = containers.docker(cmd=("sh", "-c", f"echo release seal {OPAQUE} ok; sleep 100000"))
    harness.wait_for(
        lambda: OPAQUE in harness.run("docker", "logs", c.id), "the container printed its line"
    )
    old = tmp_path / "in.tar.gz"
    bundle(c.id, "-o", str(old))
    assert OPAQUE.encode() in member(old, "/logs.txt")  # what the old rules missed
    before = hashlib.sha256(old.read_bytes()).hexdigest()
    rules = tmp_path / "rules.toml"
    rules.write_text(f'literals = ["{OPAQUE}"]\n')
    out = tmp_path / "out.tar.gz"

    proc = run_cli("bundle", "redact", str(old), "-o", str(out), "--rules", str(rules), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    logs = next(rel for rel in result["changed"] if rel.endswith("/logs.txt"))
    assert sum(result["masks"].values()) >= 1

    for name, data in members(out):
        assert OPAQUE.encode() not in data, f"the secret survived in {name}"
    assert hashlib.sha256(old.read_bytes()).hexdigest() == before  # IN untouched
    assert OPAQUE.encode() in member(old, "/logs.txt")
    assert run_cli("bundle", "verify", str(out)).returncode == 0
    report = json.loads(member(out, "/redactions.json"))
    assert logs in report["changes"]["members_changed"]
    assert report["changes"]["from"] == "in.tar.gz"
    assert any(r["file"] == logs for r in report["redactions"])
    m = manifest(out)
    assert m["redacted"] is True and m["rederived"][-1]["members_changed"] >= 1
    shown = run_cli("bundle", "show", str(out))
    assert shown.returncode == 0 and "Redacted again from in.tar.gz" in shown.stdout

    # OUT exists: refused without --force, as 'bundle' does; replaced with it.
    again = run_cli("bundle", "redact", str(old), "-o", str(out), "--rules", str(rules))
    assert again.returncode == 125 and "already exists" in again.stderr
    forced = run_cli("bundle", "redact", str(old), "-o", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    # IN itself is never the output.
    itself = run_cli("bundle", "redact", str(old), "-o", str(old), "--force")
    assert itself.returncode == 125 and "never changes it" in itself.stderr
    assert hashlib.sha256(old.read_bytes()).hexdigest() == before


def test_bundle_redact_refuses_a_damaged_bundle_in_one_sentence(
    containers: harness.Containers, tmp_path: Path
) -> None:
    c = containers.docker()
    good = tmp_path / "good.tar.gz"
    bundle(c.id, "-o", str(good))
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    out = tmp_path / "out.tar.gz"
    proc = run_cli("bundle", "redact", str(damaged), "-o", str(out))
    assert proc.returncode == 125
    assert proc.stderr.count("\n") == 1 and "damaged" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


# --- pseudonymisation ---------------------------------------------------------------------------


def _originals(c: harness.Started) -> dict[str, str]:
    doc = json.loads(harness.run("docker", "inspect", c.id))[0]
    return {
        "ip": doc["NetworkSettings"]["IPAddress"],
        "mac": doc["NetworkSettings"]["MacAddress"],
        "host": doc["Config"]["Hostname"],
    }


def _check_pseudonymised(path: Path, originals: dict[str, str]) -> dict:
    """Assert no original is anywhere in the archive, JSON stays JSON, the map is beside it."""
    for name, data in members(path):
        for what, original in originals.items():
            assert original.encode() not in data, f"the {what} {original} survived in {name}"
            assert original not in name
        if name.endswith(".json"):
            json.loads(data)  # structured files stay parseable
    mapping = path.with_name(path.name.removesuffix(".tar.gz") + ".map.json")
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600
    doc = json.loads(mapping.read_text())
    assert run_cli("bundle", "verify", str(path)).returncode == 0
    return doc


def test_pseudonyms_are_consistent_across_members_and_map_back(
    containers: harness.Containers, tmp_path: Path
) -> None:
    host = harness.unique("dt-pseudo-web")
    c = containers.docker(
        "--hostname",
        host,
        cmd=("sh", "-c", "cat /etc/hosts; cat /sys/class/net/eth0/address; sleep 100000"),
    )
    originals = _originals(c)
    harness.wait_for(
        lambda: originals["ip"] in harness.run("docker", "logs", c.id), "the container printed"
    )
    out = tmp_path / "p.tar.gz"
    bundle(c.id, "-o", str(out), "--pseudonymise", "hosts,ips,macs,users")
    doc = _check_pseudonymised(out, originals)

    ip = doc["ips"][originals["ip"]]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("100.64.0.0/10")
    assert doc["macs"][originals["mac"]].startswith("02:")
    name = doc["hosts"][host]
    logs, inspect = member(out, "/logs.txt").decode(), member(out, "/inspect.json").decode()
    # The same pseudonym in two different members: the log line and the runtime's record.
    assert ip in logs and ip in inspect
    assert name in logs and name in inspect
    assert json.loads(inspect)["NetworkSettings"]["IPAddress"] == ip
    assert "debugtool-bundle-" in json.dumps(manifest(out)["root"])
    assert manifest(out)["pseudonymised"]["ips"] >= 1
    # Never in the archive: the mapping (or its key).
    for _, data in members(out):
        assert doc["key"].encode() not in data

    # bundle redact --pseudonymise of a plain bundle, extending the same map: same pseudonyms.
    plain = tmp_path / "plain.tar.gz"
    bundle(c.id, "-o", str(plain))
    assert originals["ip"].encode() in member(plain, "/inspect.json")
    again = tmp_path / "again.tar.gz"
    mapping = tmp_path / "p.map.json"
    proc = run_cli(
        "bundle", "redact", str(plain), "-o", str(again), "--pseudonymise", "all",
        "--pseudonym-map", str(mapping),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for _, data in members(again):
        assert originals["ip"].encode() not in data and host.encode() not in data
    assert ip in member(again, "/inspect.json").decode()
    assert json.loads(mapping.read_text())["bundles"] == ["p.tar.gz", "again.tar.gz"]


# --- bounded by time and size -------------------------------------------------------------------


def _kmsg(text: str) -> None:
    with open("/dev/kmsg", "w") as f:
        f.write(f"<6>{text}\n")


def test_since_drops_old_log_lines_and_kernel_records_alike(
    containers: harness.Containers, tmp_path: Path
) -> None:
    tag = harness.unique("dt-since")
    _kmsg(f"{tag} old kernel record")
    c = containers.docker(
        cmd=("sh", "-c", f"echo {tag} old line; sleep 8; echo {tag} new line; sleep 100000")
    )
    harness.wait_for(
        lambda: f"{tag} new line" in harness.run("docker", "logs", c.id),
        "the container printed its second line",
        timeout=30,
    )
    _kmsg(f"{tag} new kernel record")
    out = tmp_path / "since.tar.gz"
    bundle(c.id, "-o", str(out), "--since", "4s")
    logs = member(out, "/logs.txt").decode()
    kernel = member(out, "/host/kernel-log.txt").decode()
    assert f"{tag} new line" in logs and f"{tag} old line" not in logs
    assert f"{tag} new kernel record" in kernel and f"{tag} old kernel record" not in kernel
    assert "(--since)" in kernel
    assert manifest(out)["cuts"] == []  # --since left these out, no cap did


def test_a_cap_keeps_the_newest_lines_and_the_manifest_records_the_cut(
    containers: harness.Containers, tmp_path: Path
) -> None:
    script = (
        'i=0; while [ $i -lt 3000 ]; do echo "line $i of the log"; i=$((i+1)); done; sleep 100000'
    )
    c = containers.docker(cmd=("sh", "-c", script))
    harness.wait_for(
        lambda: "line 2999 of" in harness.run("docker", "logs", "--tail", "1", c.id),
        "the container printed every line",
    )
    out = tmp_path / "cap.tar.gz"
    bundle(c.id, "-o", str(out), "--log-lines", "0", "--max-log-bytes", "8K")
    logs = member(out, "/logs.txt").decode()
    assert len(logs.encode()) <= 8 << 10
    assert logs.rstrip("\n").endswith("line 2999 of the log")  # the newest kept ...
    assert "line 0 of the log" not in logs  # ... the oldest dropped
    assert logs.startswith(tuple("0123456789"))  # whole lines: a Docker timestamp first
    cuts = [c for c in manifest(out)["cuts"] if c["source"].endswith("/logs.txt")]
    assert len(cuts) == 1
    assert cuts[0]["kept"] == len(logs.encode()) and cuts[0]["dropped"] > 0
    assert cuts[0]["limit"] == 8 << 10
    shown = run_cli("bundle", "show", str(out))
    assert shown.returncode == 0 and "CUT (--max-log-bytes)" in shown.stdout
    assert "Redaction cost:" in shown.stdout
    assert os.path.basename(cuts[0]["source"]) == "logs.txt"


@pytest.mark.parametrize("kinds", ["hosts,disks", ""])
def test_pseudonymise_refuses_unknown_kinds(kinds: str, tmp_path: Path) -> None:
    proc = run_cli("bundle", "--all", "-o", str(tmp_path / "x.tar.gz"), "--pseudonymise", kinds)
    assert proc.returncode == 125 and "--pseudonymise" in proc.stderr
    assert not (tmp_path / "x.tar.gz").exists()


def test_redaction_cost_is_recorded(containers: harness.Containers, tmp_path: Path) -> None:
    c = containers.docker(cmd=("sh", "-c", "echo password=hunter2hunter2; sleep 100000"))
    harness.wait_for(lambda: "hunter2" in harness.run("docker", "logs", c.id), "it printed")
    out = tmp_path / "cost.tar.gz"
    bundle(c.id, "-o", str(out))
    cost = manifest(out)["redaction"]
    assert cost["bytes"] > 0 and cost["seconds"] > 0 and 0 < cost["share"] < 1
