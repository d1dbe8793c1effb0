"""The first five minutes (issue 16) on real Docker containers: a mistyped name, exec's context
line, mounts --risky with nothing risky, inspect of a bundle, verify of a truncated bundle."""

from __future__ import annotations

import json

import pytest
from harness import run_cli, unique


@pytest.fixture(scope="module")
def pair(module_containers):
    """Two containers, PREFIX-my and PREFIX-my-web: one name is the start of the other."""
    prefix = unique("dt-first")
    my = module_containers.docker(name=f"{prefix}-my")
    web = module_containers.docker(name=f"{prefix}-my-web")
    return prefix, my, web


@pytest.fixture(scope="module")
def bundle(pair, tmp_path_factory):
    prefix, my, web = pair
    path = tmp_path_factory.mktemp("first") / "b.tar.gz"
    done = run_cli("bundle", my.name, web.name, "-o", str(path), timeout=300)
    assert done.returncode == 0, done.stderr
    return path


def test_a_mistyped_name_gets_close_names(pair) -> None:
    prefix, _, web = pair
    done = run_cli("inspect", f"{prefix}-web")
    assert done.returncode == 125
    assert f"no container matches '{prefix}-web'." in done.stderr
    assert f"Did you mean {web.name}" in done.stderr
    assert "Traceback" not in done.stderr


def test_exec_quiet_and_context_json(pair) -> None:
    _, my, _ = pair
    plain = run_cli("exec", my.name, "--", "echo", "hi")
    assert plain.returncode == 0 and plain.stdout == "hi\n"
    assert plain.stderr.startswith("debugtool: runtime mode:")
    quiet = run_cli("exec", "-q", my.name, "--", "echo", "hi")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "hi\n", "")
    failed = run_cli("exec", "-q", "--mode", "ns", my.name, "--", "no-such-command")
    assert failed.returncode == 127 and "no-such-command" in failed.stderr  # errors still say
    as_json = run_cli("exec", "--context-json", my.name, "--", "true")
    context = json.loads(as_json.stderr)
    assert context["context"]["mode"] == "runtime" and context["line"]
    old = run_cli("exec", "--json", my.name, "--", "true")
    assert old.returncode == 0
    warning, line = old.stderr.splitlines()
    assert "--json is an old spelling: use --context-json" in warning
    assert json.loads(line)["context"]["mode"] == "runtime"


def test_mounts_risky_with_nothing_risky(pair) -> None:
    _, my, _ = pair
    done = run_cli("mounts", my.name, "--risky")
    assert (done.returncode, done.stdout) == (0, "no risky mounts\n")
    as_json = run_cli("mounts", my.name, "--risky", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []


def test_inspect_reads_a_bundle_with_names_matched_as_live(pair, bundle) -> None:
    prefix, my, web = pair
    done = run_cli("inspect", "--bundle", str(bundle), my.name)  # also a prefix of my-web's name
    assert done.returncode == 0, done.stderr
    assert "Name:" in done.stdout and my.id in done.stdout and web.id not in done.stdout
    assert f"/docker/{my.id}" in done.stdout  # the cgroup paths, from the bundle
    assert "Not in a bundle: namespace inodes, root filesystem path" in done.stdout
    as_json = json.loads(run_cli("inspect", "--bundle", str(bundle), my.name, "--json").stdout)
    assert as_json["container"]["id"] == my.id and as_json["not_in_bundle"]
    missing = run_cli("inspect", "--bundle", str(bundle), f"{prefix}-my-wbe")  # a typo
    assert missing.returncode == 125 and f"Did you mean {web.name}" in missing.stderr


def test_verify_summarises_a_truncated_bundle(bundle, tmp_path) -> None:
    data = bundle.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 3])
    done = run_cli("bundle", "verify", str(cut))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{cut}: CORRUPT (")
    assert "truncated or corrupt" in lines[1]
    missing = [line for line in lines if line.startswith("  missing: ")]
    assert len(missing) == 1 and " more)" in missing[0], lines
    assert len(lines) <= 6, lines  # a summary, not a line per member
    verbose = run_cli("bundle", "verify", str(cut), "--verbose")
    full = json.loads(run_cli("bundle", "verify", str(cut), "--json").stdout)
    assert len(verbose.stdout.splitlines()) == len(full["problems"]) + 1 > 20
    assert full["summary"]["missing"] == len(
        [p for p in full["problems"] if p.endswith(": missing")]
    )
    intact = run_cli("bundle", "verify", str(bundle))
    assert (intact.returncode, intact.stdout) == (0, f"{bundle}: ok\n")


def test_bundle_timeout_is_the_old_spelling_of_collector_timeout(pair, tmp_path) -> None:
    _, my, _ = pair
    done = run_cli("bundle", my.name, "--timeout", "5", "-o", str(tmp_path / "t.tar.gz"))
    assert done.returncode == 0, done.stderr
    assert "bundle --timeout is an old spelling: use bundle --collector-timeout" in done.stderr
    manifest = run_cli("bundle", "show", str(tmp_path / "t.tar.gz"), "--json")
    assert "--timeout" in json.loads(manifest.stdout)["command_line"]


def test_ps_with_nothing_to_list_says_so() -> None:
    # crun refuses this host's hybrid cgroups (DESIGN.md): it never has a container here.
    done = run_cli("ps", "-a", "--runtime", "crun")
    assert (done.returncode, done.stdout) == (0, "no containers\n")
    assert json.loads(run_cli("ps", "-a", "--runtime", "crun", "--json").stdout) == []
