"""Shell completion end to end: each shell run interactively in tmux, the script installed with
``debugtool completion SHELL --install --dir``, TAB pressed on real containers of Docker,
containerd (ctr) and podman, and on a Docker container whose Kubernetes pod label is shell code.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import harness
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # where the installed debugtool script is

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

# A tmux server of this module's own (its own socket, no config file).
SOCKET = f"dt-completion-test-{os.getpid()}"


tmux = functools.partial(harness.tmux, SOCKET)


class Pane:
    """One interactive shell in a tmux window 200 columns wide."""

    def __init__(self, command: str, cwd: Path) -> None:
        self.session = f"dt-compl-{uuid.uuid4().hex[:8]}"
        env = {
            "PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(cwd),
            "TERM": "screen",
            "PS1": "$ ",
            "PROMPT": "$ ",
        }
        line = "cd {} && exec env -i {} {}".format(
            shlex.quote(str(cwd)),
            " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()),
            command,
        )
        started = tmux("new-session", "-d", "-x", "200", "-y", "50", "-s", self.session, line)
        assert started.returncode == 0, started.stderr
        self.wait_for("$")

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.session).stdout

    def wait_for(self, *texts: str, timeout: float = 30) -> str:
        """Poll until every one of ``texts`` shows; return the screen (fails with it)."""
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(text in shown for text in texts):
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{texts!r} did not appear within {timeout}s; the screen:\n{shown}")

    def type(self, text: str) -> None:
        tmux("send-keys", "-t", self.session, "-l", text)

    def keys(self, *keys: str) -> None:
        for key in keys:
            tmux("send-keys", "-t", self.session, key)
            time.sleep(0.05)  # each TAB its own read, as a person types them

    def run(self, line: str) -> None:
        self.type(line)
        self.keys("Enter")

    def complete(self, typed: str, *expected: str, tabs: int = 1) -> str:
        """Type ``typed``, press TAB, wait for ``expected``; return the screen, then clear the
        line and the screen for the next one."""
        self.type(typed)
        self.wait_for(typed.rstrip())  # the pane keeps no trailing blanks
        self.keys(*["Tab"] * tabs)
        try:
            return self.wait_for(*(text.rstrip() for text in expected))
        finally:
            self.clear()

    def clear(self) -> None:
        self.keys("C-e", "C-u", "C-l")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.screen().strip() != "$":
            time.sleep(0.1)

    def close(self) -> None:
        tmux("kill-session", "-t", self.session)


@pytest.fixture(scope="module")
def started(module_containers: harness.Containers) -> dict[str, harness.Started]:
    """A container of each runtime, named dtc-<hex>, and two Docker containers whose pod
    labels are shell code (one with a newline)."""
    tag = uuid.uuid4().hex[:8]
    pod = f"$(touch pwned-{tag}-1)`touch pwned-{tag}-2`"
    return {
        "docker": module_containers.docker(name=harness.unique("dtc")),
        "containerd": module_containers.containerd(name=harness.unique("dtc")),
        "podman": module_containers.podman(name=harness.unique("dtc")),
        "hostile": module_containers.docker(
            "--label",
            f"io.kubernetes.pod.name={pod}",
            "--label",
            "io.kubernetes.container.name=c",
            name=harness.unique("dtc"),
        ),
        "newline": module_containers.docker(
            "--label",
            f"io.kubernetes.pod.name=evil\n$(touch pwned-{tag}-3)",
            "--label",
            "io.kubernetes.container.name=c",
            name=harness.unique("dtc"),
        ),
    }


@pytest.fixture
def home(tmp_path: Path) -> Path:
    yield tmp_path
    tmux("kill-server")  # this module's own server (its socket), nothing else


def install(shell: str, where: Path) -> Path:
    result = harness.run_cli("completion", shell, "--install", "--dir", str(where))
    assert result.returncode == 0, result.stderr
    return where


def check_targets(pane: Pane, started: dict[str, harness.Started], tabs: int = 1) -> None:
    """A name prefix, and each runtime's RUNTIME:prefix, complete to the whole name."""
    for runtime in ("docker", "containerd", "podman"):
        name = started[runtime].name
        pane.complete(f"debugtool inspect {name[:-3]}", f"debugtool inspect {name}", tabs=tabs)
        pane.complete(
            f"debugtool top {runtime}:{name[:-3]}", f"debugtool top {runtime}:{name}", tabs=tabs
        )


def test_bash_completes_commands_options_and_targets_of_every_runtime(started, home) -> None:
    script = install("bash", home / "completions") / "debugtool"
    pane = Pane("bash --norc --noprofile -i", home)
    try:
        pane.run(f"source {shlex.quote(str(script))}")
        pane.clear()
        listed = pane.complete("debugtool ", "inspect", "completion", "snapshot", tabs=2)
        for command in ("ps", "exec", "bundle", "trace", "tui", "console", "audit"):
            assert command in listed
        pane.complete("debugtool exec --mo", "debugtool exec --mode ")
        pane.complete("debugtool exec --mode t", "debugtool exec --mode toolbox ")
        pane.complete("debugtool ps --runtime pod", "debugtool ps --runtime podman ")
        check_targets(pane, started)
        # docker: lists Docker's containers only (bash shows what follows the colon).
        listed = pane.complete(
            "debugtool inspect docker:dtc-", started["hostile"].name, started["docker"].name, tabs=2
        )
        assert started["podman"].name not in listed
        assert started["containerd"].name not in listed
    finally:
        pane.close()


def test_bash_inserts_a_hostile_pod_name_as_one_quoted_word(started, home) -> None:
    script = install("bash", home / "completions") / "debugtool"
    pane = Pane("bash --norc --noprofile -i", home)
    try:
        pane.run(f"source {shlex.quote(str(script))}")
        pane.clear()
        pane.type("debugtool inspect pod/")
        pane.keys("Tab", "Tab")
        # The two forms of the hostile pod share their start: bash inserts it, quoted.
        shown = pane.wait_for("pod/\\$\\(touch\\ pwned-")
        assert "evil" not in shown  # the name with a newline is not offered
        pane.type("/c | head -3")  # the ID and Name lines
        pane.keys("Enter")
        # inspect read the word as it was: the container of that pod, by its label.
        pane.wait_for(started["hostile"].name)
    finally:
        pane.close()
    assert not list(home.glob("pwned-*"))


def test_zsh_completes_options_and_targets_and_quotes_hostile_names(started, home) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")
    functions = install("zsh", home / "site-functions")
    pane = Pane("zsh -f -i", home)
    try:
        pane.run(
            f"fpath=({shlex.quote(str(functions))} $fpath); autoload -U compinit; compinit -u -D"
        )
        pane.clear()
        pane.complete("debugtool exec --mo", "debugtool exec --mode ")
        pane.complete("debugtool completion f", "debugtool completion fish ")
        check_targets(pane, started)
        pane.complete("debugtool inspect pod/", "pod/\\$\\(touch\\ pwned-")
    finally:
        pane.close()
    assert not list(home.glob("pwned-*"))


def test_fish_completes_options_and_targets_and_quotes_hostile_names(started, home) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    completions = install("fish", home / "fish-completions")
    init = (
        "function fish_prompt; echo -n '$ '; end; set -g fish_autosuggestion_enabled 0; "
        f"set -p fish_complete_path {shlex.quote(str(completions))}"
    )
    pane = Pane(f"fish --no-config --private -C {shlex.quote(init)}", home)
    try:
        pane.complete("debugtool exec --mo", "debugtool exec --mode ")
        pane.complete("debugtool ps --runtime conta", "debugtool ps --runtime containerd ")
        check_targets(pane, started)
        pane.complete("debugtool inspect pod/", "pod/\\$\\(touch\\ pwned-")
    finally:
        pane.close()
    assert not list(home.glob("pwned-*"))


def test_target_listing_with_a_hung_docker_exits_0_silently(started, tmp_path: Path) -> None:
    """dockerd accepts and never answers: the listing still ends, says nothing on stderr and
    exits 0 (what it lists depends on what answered in time: not asserted)."""
    import socket

    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.bind(str(tmp_path / "docker.sock"))
    hung.listen(8)  # connections queue; none is ever accepted or answered
    try:
        result = subprocess.run(
            [str(BIN / "debugtool"), "completion", "bash", "--complete-targets=dtc-"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/docker.sock"},
        )
    finally:
        hung.close()
    assert result.returncode == 0
    assert result.stderr == ""
    assert all(line.startswith("dtc-") for line in result.stdout.splitlines())
