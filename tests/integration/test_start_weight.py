"""What the hot commands import: a module list, so that start-up weight cannot creep back.

Each command runs in a fresh interpreter started as the installed ``debugtool`` script starts
it, with nothing imported first (``-S``: no site, so no editable-install finder, which imports
half the standard library itself). At exit the interpreter writes every module it imported; the
test fails when one of ``HEAVY`` is among them. The set comes from ``python -X importtime``:
each costs 1 to 15 ms to import (``enum`` alone about 4, and ``re``, ``json``, ``socket`` and
``signal`` each pull it in), against a command budget of a few tens of ms. bench/README.md says
what each command's start costs. A timing would be noise on these shared machines; a module
list is not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import harness
import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Modules no hot command may import: each one's cost as -X importtime measured it here.
HEAVY = {
    "typing": "4 ms, and re",
    "dataclasses": "15 ms with inspect, ast, dis and tokenize",
    "inspect": "9 ms",
    "enum": "4 ms; every module below that uses enums imports it",
    "re": "7 ms with enum",
    "json": "8 ms with re (debugtool.jsonc uses the same C codec)",
    "socket": "4 ms with enum and selectors (debugtool uses _socket)",
    "signal": "enum (debugtool uses _signal)",
    "selectors": "socket's",
    "logging": "9 ms (debugtool.debuglog imports it only with --debug)",
    "argparse": "8 ms with re and gettext (debugtool.argv reads everyday command lines)",
    "gettext": "argparse's",
    "locale": "1.5 ms",
    "threading": "1.5 ms (debugtool.deadline uses _thread)",
    "subprocess": "11 ms",
    "contextlib": "2 ms with collections and functools",
    "collections": "2.3 ms",
    "functools": "collections",
    "shutil": "3.5 ms with bz2 and lzma",
    "urllib": "3 ms",
    "datetime": "1.2 ms",
    "traceback": "4 ms with linecache and tokenize",
    "textwrap": "re",
    "string": "re",
    "warnings": "imported lazily by the standard library (os.execvpe); never at start",
    "pathlib": "5 ms",
    "tempfile": "shutil and random",
    "ipaddress": "2 ms",
    "importlib.metadata": "20 ms (entry points are read from dist-info directly)",
    "psutil": "a third-party package",
    "ptrace": "a third-party package",
    "textual": "the TUI's",
    "rich": "the TUI's",
    "prompt_toolkit": "the console's",
}

DRIVER = (
    "import sys\n"
    "sys.path.insert(0, sys.argv.pop(1))\n"
    "out = sys.argv.pop(1)\n"
    "try:\n"
    "    from debugtool.cli import main\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    "    with open(out, 'w') as f:\n"
    "        f.write('\\n'.join(sorted(sys.modules)))\n"
    "sys.exit(code)\n"
)


def imported(tmp_path: Path, *args: str) -> set[str]:
    """Run ``debugtool ARGS`` as installed; return every module it imported (checked: exit 0)."""
    out = tmp_path / f"modules-{len(list(tmp_path.iterdir()))}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [sys.executable, "-S", "-c", DRIVER, str(ROOT), str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "DEBUGTOOL_AUDIT_LOG": str(tmp_path / "audit.jsonl")},
    )
    assert result.returncode == 0, result.stderr
    return set(out.read_text().split())


def importtime_modules(argv: list[str], cwd: Path) -> set[str]:
    """Run ``python -X importtime ARGV`` (exit 0 checked); return every module it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**env, "DEBUGTOOL_AUDIT_LOG": str(cwd / "audit.jsonl")},
    )
    assert result.returncode == 0, result.stderr
    # "import time: SELF | CUMULATIVE | NAME" (indented by depth), after one header line.
    rows = [line.split("|") for line in result.stderr.splitlines()]
    names = {row[2].strip() for row in rows if len(row) == 3 and row[0].startswith("import time:")}
    return names - {"imported package"}


def heavy(modules: set[str], allowed: frozenset[str] = frozenset()) -> dict[str, str]:
    """Return the heavy modules among ``modules`` (a package's submodules count as it)."""
    found = {}
    for name in modules:
        top = name if name in HEAVY else name.split(".")[0]
        if top in HEAVY and top not in allowed:
            found[name] = HEAVY[top]
    return found


@pytest.fixture(scope="module")
def docker_target(module_containers: harness.Containers) -> harness.Started:
    return module_containers.docker()


def test_version_imports_nothing_but_the_cli(tmp_path: Path) -> None:
    baseline = imported(tmp_path, "--version") - {"debugtool", "debugtool.cli", "__future__"}
    bare = subprocess.run(  # os: what site imports, and the script's one import of its own
        [sys.executable, "-S", "-c", "import os, sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert baseline <= set(bare), baseline - set(bare)


@pytest.mark.parametrize(
    "args",
    [("ps", "--runtime", "docker", "--json"), ("ps", "--runtime", "docker"), ("ps", "--json")],
)
def test_ps_imports_nothing_heavy(tmp_path: Path, docker_target: harness.Started, args) -> None:
    modules = imported(tmp_path, *args)
    assert "debugtool.runtimes.docker" in modules  # it did the work
    assert heavy(modules) == {}
    assert "debugtool.snapshot" not in modules  # containers only: no Snapshot records built


@pytest.mark.parametrize("mode", ["ns", "runtime"])
def test_exec_imports_nothing_heavy(tmp_path: Path, docker_target: harness.Started, mode) -> None:
    modules = imported(tmp_path, "exec", "--mode", mode, docker_target.id, "--", "true")
    assert "debugtool.exec.core" in modules
    # ns mode calls setns and prctl: ctypes is the one way to them in Python 3.11.
    assert heavy(modules, frozenset({"ctypes"})) == {}
    # Only a session with a terminal is recorded (issue 17): none of that code for this one.
    assert not {"debugtool.recording", "debugtool.replay", "hashlib"} & modules
    # Docker's exec is the Engine API's: the runtime clients' module (runc, podman, ctr) is
    # not for it.
    assert "debugtool.runtimes.client" not in modules
    # The context line has nothing to escape: printable()'s module (and its tables) stays out.
    assert "debugtool.output" not in modules


@pytest.mark.parametrize("command", ["top", "net"])
def test_top_and_net_import_nothing_heavy(
    tmp_path: Path, docker_target: harness.Started, command: str
) -> None:
    modules = imported(tmp_path, command, docker_target.id, "--json")
    assert f"debugtool.commands.{command}" in modules
    # They read user names and DNS files inside the container's root with openat2 (ctypes).
    assert heavy(modules, frozenset({"ctypes"})) == {}


def test_completion_target_listing_imports_nothing_heavy(
    tmp_path: Path, docker_target: harness.Started
) -> None:
    """It runs on every TAB that completes a target: as lean as ps."""
    modules = imported(tmp_path, "completion", "bash", f"--complete-targets={docker_target.name}")
    assert "debugtool.completion.targets" in modules
    assert "debugtool.runtimes.docker" in modules  # it did the work
    assert heavy(modules) == {}


@pytest.mark.parametrize("form", ["id", "name"])
def test_logs_imports_nothing_heavy(tmp_path: Path, docker_target: harness.Started, form) -> None:
    """``logs --tail`` is measured against ``docker logs`` (bench/bench_logs.py): as lean as ps,
    and a full id no longer brings the exec client."""
    target = docker_target.id if form == "id" else docker_target.name
    modules = imported(tmp_path, "logs", "--tail", "5", target)
    assert "debugtool.logs.sources" in modules
    assert heavy(modules) == {}
    if form == "id":
        assert "debugtool.runtimes.docker_exec" not in modules


#: How many modules each hot command imports as the dev install runs it (tests/run's strict
#: editable install: the venv's debugtool script, site on), beyond ``python -c pass`` in the same
#: venv: debugtool's own, and the standard library's C and small modules (_json, _socket, errno,
#: fcntl, struct, ctypes for ns exec, top and net). The figures of 2026-12-06 (bench/README.md,
#: start-up): a module costs about 0.2 ms, so a new one on a hot path is a choice to make here,
#: with its reason. What the host's state adds (``HOST_STATE``) is not counted. {id} and {name}
#: are the Docker test container's.
DEV_INSTALL_BOUND = {
    "--version": 3,  # debugtool, debugtool.cli, __future__
    # 17 of debugtool's (19 before: no deadline, no debuglog)
    "ps --runtime docker --json": 22,
    "ps --runtime docker": 25,  # and the table's views
    "ps --json": 30,  # 25 of debugtool's (27 before: no debuglog, no ports)
    "ps": 33,
    # debugtool.snapshot: the Snapshot's records, which ps no longer builds, in their own module
    # (net's sockets, top's processes). ns exec: output only for a context line to escape; no
    # snapshot or debuglog before the fork (the cgroup join imports debugtool.collect, which
    # imports them for a Snapshot only), no termios without a terminal.
    "exec --mode ns {id} -- true": 41,
    # 26 of debugtool's (31 before: no debuglog, runtimes.client, output, exec.early, and
    # exec.watchdog, now part of exec.runtime); no termios without a terminal
    "exec {id} -- true": 37,
    "exec --mode ns {name} -- true": 49,
    # fcntl in both: the PID namespace's ioctl that names a container's processes and socket
    # holders, in place of a status read of each (bench/README.md, third pass); debugtool.snapshot
    # in both, as above; no debuglog (debugtool.collect imports it for a Snapshot only)
    "top {name} --json": 42,
    "net {id} --json": 37,
}

#: Modules that come from the host's state, not from the command: each with what it imports.
#: runtimes.ports when some container on the host publishes ports (in all that lists Docker's or
#: containerd's containers), runtimes.boltdb when root's or a user's podman has containers (in
#: discovery over every runtime), which another test run on the same host can make at any time.
HOST_STATE = {
    "debugtool.runtimes.ports": (),
    "debugtool.runtimes.boltdb": ("fcntl", "struct", "_struct"),
}


def counted(added: list[str]) -> list[str]:
    """Return ``added`` without what ``HOST_STATE`` says the host's state brought in."""
    brought = {m for name, its in HOST_STATE.items() if name in added for m in (name, *its)}
    return [m for m in added if m not in brought]


@pytest.mark.parametrize("command", sorted(DEV_INSTALL_BOUND))
def test_dev_install_module_count(
    tmp_path: Path, docker_target: harness.Started, command: str
) -> None:
    """The installed script, as tests/run installs it and as CI and developers run it: no
    import hook of the editable install (setuptools' default finder alone imports pathlib, re,
    enum and urllib, about 25 modules a start), nothing heavy, and no more modules than the
    bound."""
    script = Path(sys.executable).with_name("debugtool")
    assert script.is_file(), f"no debugtool script beside {sys.executable}: run tests/run"
    args = command.format(id=docker_target.id, name=docker_target.name).split()
    modules = importtime_modules([str(script), *args], tmp_path)
    bare = importtime_modules(["-c", "pass"], tmp_path)
    assert "debugtool.cli" in modules  # it is the script of this worktree's debugtool
    added = counted(sorted(modules - bare))
    assert len(added) <= DEV_INSTALL_BOUND[command], added
    assert heavy(modules, frozenset({"ctypes"})) == {}
