"""Issue 19's secret shapes through a real bundle: a Docker container logs a config directory
full of them (name/value pairs, DSNs, key value lines, block scalars, PEM) and carries more in
env, labels and argv; bundled with and without a rules file, no planted secret is in any member
and every harmless line is intact."""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest

FIXTURE = Path(__file__).parent.parent / "fixtures" / "bundle"
SHAPES = (FIXTURE / "secret-shapes.txt").read_text()
PLANTED = sorted(set(re.findall(r"\bPlant\w+", SHAPES)))
ENV_JSON = '[{"name":"DB_PASSWORD","value":"PlantEnvPair30"},{"name":"MODE","value":"keepme"}]'
LAST_APPLIED = (
    '{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"env":'
    '[{"name":"API_TOKEN","value":"PlantLabelPair31"}]}]}}'
)
MORE = ["PlantEnvPair30", "PlantLabelPair31", "PlantArgBindpw32"]
# Lines only a site's rules make secret, and one its allow-list keeps.
SITE_LINES = (
    "orderref: Ord3rRef99x\n"
    "customer CUST-735091 paid\n"
    "host acme-internal-7 is up\n"
    "api_token=Demo-Public-Token9\n"
)
RULES = """\
keys = ["orderref"]
patterns = ['CUST-(?P<secret>[0-9]{6})']
literals = ["acme-internal-7"]
allow = ["Demo-Public-Token9"]
"""


def every_member(path: str) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(path, "r:gz") as tar:
        for info in tar:
            data = tar.extractfile(info).read() if info.isfile() else b""  # type: ignore[union-attr]
            yield info.name, data


@pytest.fixture(scope="module")
def shapes_container(module_containers: harness.Containers, tmp_path_factory) -> harness.Started:
    site = tmp_path_factory.mktemp("site") / "site.txt"
    site.write_text(SITE_LINES)
    script = "cat /shapes/secret-shapes.txt /site/site.txt; exec sleep 100000"
    started = module_containers.docker(
        *("-v", f"{FIXTURE}:/shapes:ro", "-v", f"{site.parent}:/site:ro"),
        *("-e", f"K8S_ENV={ENV_JSON}", "-e", "SSL_PRIVATE_KEY_FILENAME=/etc/ssl/x.pem"),
        *("--label", f"kubectl.kubernetes.io/last-applied-configuration={LAST_APPLIED}"),
        cmd=("sh", "-c", script, "app", "--bindpw", "PlantArgBindpw32"),
    )
    harness.wait_for(
        lambda: "acme-internal-7" in harness.run("docker", "logs", started.id),
        timeout=20,
        what="the container's log",
    )
    return started


def _bundle(cli, container: harness.Started, out: Path, *extra: str) -> list[tuple[str, bytes]]:
    proc = cli("bundle", container.id, "-o", str(out), "--json", *extra, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return list(every_member(str(out)))


def _log(members: list[tuple[str, bytes]]) -> str:
    logs = [data for name, data in members if re.search(r"/logs?[^/]*$", name) and data]
    assert logs, [name for name, _ in members]
    return b"\n".join(logs).decode()


def test_no_shape_survives_and_harmless_lines_do(
    shapes_container: harness.Started, cli, tmp_path: Path
) -> None:
    members = _bundle(cli, shapes_container, tmp_path / "b.tar.gz")
    for name, data in members:
        for secret in PLANTED + MORE:
            assert secret.encode() not in data, f"{secret} survived in {name}"
    log = _log(members).splitlines()
    kept = [line for line in SHAPES.splitlines() if "keep:" in line]
    assert len(kept) >= 5
    for line in kept:
        assert any(line in got for got in log), line
    # the same number of lines came out as went in: nothing joined, nothing split
    assert sum("--- " in got for got in log) == SHAPES.count("\n--- ")
    everything = b"\n".join(data for _, data in members)
    assert b"SSL_PRIVATE_KEY_FILENAME=/etc/ssl/x.pem" in everything
    assert (
        b'\\"name\\":\\"MODE\\",\\"value\\":\\"keepme\\"' in everything or b"keepme" in everything
    )
    # without rules, the site's own secrets are text like any other
    for value in ("Ord3rRef99x", "CUST-735091", "acme-internal-7"):
        assert value.encode() in everything
    assert b"Demo-Public-Token9" not in everything  # api_token= is masked by the built-in rules


def test_a_rules_file_adds_keys_patterns_literals_and_an_allow_list(
    shapes_container: harness.Started, cli, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    members = _bundle(cli, shapes_container, tmp_path / "b.tar.gz", "--redact-rules", str(rules))
    for name, data in members:
        for secret in [*PLANTED, *MORE, "Ord3rRef99x", "CUST-735091", "acme-internal-7"]:
            assert secret.encode() not in data, f"{secret} survived in {name}"
    log = _log(members)
    assert "orderref: ***REDACTED***" in log
    assert "customer CUST-***REDACTED*** paid" in log
    assert "host ***REDACTED*** is up" in log
    assert "api_token=Demo-Public-Token9" in log  # allowed
    redactions = json.loads(next(d for n, d in members if n.endswith("redactions.json")))
    rules_hit = {r["rule"] for r in redactions["redactions"]}
    assert {"user-pattern", "user-literal", "secret-key", "secret-pair"} <= rules_hit
    assert str(rules).encode() in b"\n".join(d for _, d in members)  # the bundle says which file


def test_a_bad_rules_file_writes_nothing(
    shapes_container: harness.Started, cli, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("literals = 'not a list'\n")
    out = tmp_path / "b.tar.gz"
    proc = cli("bundle", shapes_container.id, "-o", str(out), "--redact-rules", str(rules))
    assert proc.returncode == 125
    assert proc.stderr.startswith(f"debugtool: cannot use the redaction rules in {rules}: literals")
    assert proc.stderr.count("\n") == 1  # one line, no traceback
    assert not out.exists()
