"""Shell completion: the scripts hold the parser's commands and options, are valid in their shell,
complete what each word is, and treat container names as data, never as code.

Each script is run by its real shell: bash's completion function is called with ``COMP_LINE``
set as readline would set it, fish answers ``complete -C``, zsh (whose completion needs a
terminal) is checked here for syntax and its tables, and driven in tmux by
tests/integration/test_completion_live.py. The candidates of hostile names come from a stand-in
``debugtool`` on PATH that prints them, as the real one would print what a container is named.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from debugtool import cli
from debugtool.cli import main
from debugtool.completion import targets
from debugtool.model import Container

SHELLS = ("bash", "zsh", "fish")


def script(shell: str, capsys) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def the_parser() -> dict[str, set[str]]:
    """Every command of argparse's full parser and its visible option strings ('' global)."""
    import argparse

    parser = cli.build_parser()
    found = {"": _flags(parser)}
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        found[name] = _flags(command) | {"--debug"}  # --debug is read anywhere on the line
    return found


def _flags(parser) -> set[str]:
    import argparse

    return {f for a in parser._actions if a.help is not argparse.SUPPRESS for f in a.option_strings}


def run_shell(argv: list[str], tmp_path: Path, candidates: list[str] | None = None) -> str:
    """Run a shell with a stand-in ``debugtool`` first on PATH that prints ``candidates``
    (one a line, as written) whatever it is asked; return its standard output."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "candidates").write_text("".join(f"{c}\n" for c in candidates or []))
    stub = bin_dir / "debugtool"
    stub.write_text(f"#!/bin/sh\nexec cat {tmp_path / 'candidates'}\n")
    stub.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "TERM": "dumb"}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return result.stdout


BASH_DRIVER = r"""
source "$1"
shift
for line in "$@"; do
    COMP_LINE=$line COMP_POINT=${#line} COMPREPLY=()
    _debugtool
    if ((${#COMPREPLY[@]})); then printf '%s\n' "${COMPREPLY[@]}"; fi
    printf '%s\n' '---'
done
"""


def bash_complete(path: Path, tmp_path: Path, *lines: str, candidates=None) -> list[list[str]]:
    """Return what the bash script offers at the end of each of ``lines``."""
    out = run_shell(
        ["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "bash", str(path), *lines],
        tmp_path,
        candidates,
    )
    return [block.split("\n")[:-1] for block in (out + "\n").split("---\n")[:-1]]


def fish_complete(path: Path, tmp_path: Path, line: str, candidates=None) -> list[str]:
    """Return fish's candidates (without descriptions) at the end of ``line``."""
    out = run_shell(
        ["fish", "--no-config", "-c", 'source $argv[1]; complete -C"$argv[2]"', str(path), line],
        tmp_path,
        candidates,
    )
    return [entry.split("\t")[0] for entry in out.splitlines()]


@pytest.fixture
def written(tmp_path: Path, capsys):
    """The script of a shell written to a file: ``written("bash")`` -> its path."""

    def write(shell: str) -> Path:
        path = tmp_path / f"completion.{shell}"
        path.write_text(script(shell, capsys))
        return path

    return write


# --- what the scripts hold ----------------------------------------------------------------


def test_bash_script_offers_every_command_and_option_of_the_parser(written, tmp_path) -> None:
    parser = the_parser()
    path = written("bash")
    commands = [name for name in parser if name]
    lines = ["debugtool ", "debugtool -", *(f"debugtool {name} -" for name in commands)]
    offered = bash_complete(path, tmp_path, *lines)
    assert set(offered[0]) == set(commands)
    assert set(offered[1]) == parser[""]
    for name, options in zip(commands, offered[2:], strict=True):
        assert set(options) == parser[name], name


def test_zsh_script_holds_every_command_and_option_of_the_parser(written, tmp_path) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")
    parser = the_parser()
    path = written("zsh")
    # Sourced with a stand-in compdef (compinit needs a terminal): the tables, as zsh reads them.
    driver = (
        "compdef() { :; }; source $1; shift; __debugtool_commands; print -l -- ${reply%%:*}; "
        "print -- ---; for c in '' $@; do __debugtool_options $c; "
        "print -l -- ${reply%%:*}; print -- ---; done"
    )
    commands = [name for name in parser if name]
    out = run_shell(["zsh", "-f", "-c", driver, "zsh", str(path), *commands], tmp_path)
    blocks = [set(b.split()) for b in out.split("---\n")[:-1]]
    assert blocks[0] == set(commands)
    assert blocks[1] == parser[""]
    for name, options in zip(commands, blocks[2:], strict=True):
        assert options == parser[name], name


def test_fish_script_offers_every_command_and_option_of_the_parser(written, tmp_path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    parser = the_parser()
    path = written("fish")
    commands = [name for name in parser if name]
    assert set(fish_complete(path, tmp_path, "debugtool ")) == set(commands)
    assert set(fish_complete(path, tmp_path, "debugtool -")) == parser[""]
    for name in ("exec", "bundle", "ps", "completion"):
        assert set(fish_complete(path, tmp_path, f"debugtool {name} -")) == parser[name], name


def test_an_option_added_to_a_command_is_offered_without_editing_anything(
    written, tmp_path, monkeypatch
) -> None:
    from debugtool.commands import inspect

    register = inspect.register

    def with_option(sub) -> None:  # sub: the recorder of debugtool.completion.spec
        register(sub)
        sub.parsers["inspect"][1].add_argument("--brand-new", choices=("one", "two"), help="new")

    monkeypatch.setattr(inspect, "register", with_option)
    path = written("bash")
    offered = bash_complete(
        path, tmp_path, "debugtool inspect --bra", "debugtool inspect --brand-new "
    )
    assert offered == [["--brand-new"], ["one", "two"]]


@pytest.mark.parametrize("shell", SHELLS)
def test_script_syntax(shell: str, written) -> None:
    check = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    result = subprocess.run([*check[shell], str(written(shell))], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_hidden_entry_is_offered_nowhere(written, tmp_path, capsys) -> None:
    """The option lists above equal argparse's visible ones; the hidden entry is not one."""
    assert bash_complete(written("bash"), tmp_path, "debugtool completion --c") == [[]]
    with pytest.raises(SystemExit):
        main(["completion", "--help"])
    assert "--complete-targets" not in capsys.readouterr().out


# --- what is offered where ----------------------------------------------------------------


def test_bash_offers_values_by_what_the_option_takes(written, tmp_path) -> None:
    (tmp_path / "bundle.tar.gz").write_text("")
    (tmp_path / "tools").mkdir()
    offered = bash_complete(
        written("bash"),
        tmp_path,
        "debugtool exec --mode ",
        "debugtool exec --mode=t",
        "debugtool ps --runtime ",
        "debugtool completion ",
        "debugtool bundle -o bun",
        "debugtool top --bundle=bun",
        "debugtool exec --tools t",
        "debugtool bundle verify bun",
        "debugtool --timeout 3 ins",
        "debugtool --timeout ",
        "debugtool exec web -- ",
        "debugtool exec -it --mo",
    )
    assert offered == [
        ["runtime", "ns", "toolbox"],
        ["toolbox"],
        ["containerd", "crun", "docker", "none", "podman", "runc"],
        ["bash", "zsh", "fish"],
        ["bundle.tar.gz"],
        ["bundle.tar.gz"],
        ["tools"],
        ["bundle.tar.gz"],
        ["inspect"],
        [],  # a number: nothing to offer
        [],  # the command run in the container: not ours to complete
        ["--mode"],
    ]


def test_bash_targets_are_asked_for_whole_words_and_replace_after_the_colon(
    written, tmp_path
) -> None:
    # The stand-in answers whatever it is asked: the script keeps those that fit the word.
    names = ["docker:", "web", "docker:web", "docker:worker", "pod/", "pod/api/app"]
    offered = bash_complete(
        written("bash"),
        tmp_path,
        "debugtool inspect w",
        "debugtool inspect docker:w",
        "debugtool exec -it docker:wo",
        "debugtool audit --target=docker:we",
        "debugtool bundle pod/",
        candidates=names,
    )
    # COMP_WORDBREAKS holds ':' (and '='): bash replaces what follows the last one.
    assert offered == [["web"], ["web", "worker"], ["worker"], ["web"], ["pod/api/app"]]


# --- hostile candidates -------------------------------------------------------------------

HOSTILE = [
    "pod/$(touch pwned-1)/c",
    "web`touch pwned-2`",
    "web; touch pwned-3",
    "web two",
    "web'\"\\x",
    "web$HOME",
]


def test_bash_quotes_hostile_candidates_and_runs_none(written, tmp_path) -> None:
    offered = bash_complete(written("bash"), tmp_path, "debugtool inspect ", candidates=HOSTILE)[0]
    assert not list(tmp_path.glob("pwned-*"))
    assert len(offered) == len(HOSTILE)
    # What the shell reads back from each inserted reply is the name, as one word.
    for reply, name in zip(offered, HOSTILE, strict=True):
        words = run_shell(["bash", "--norc", "-c", f"printf '%s\\0' {reply}"], tmp_path).split(
            "\0"
        )[:-1]
        assert words == [name]
    assert not list(tmp_path.glob("pwned-*"))


def test_fish_offers_hostile_candidates_as_data(written, tmp_path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    offered = fish_complete(written("fish"), tmp_path, "debugtool inspect ", candidates=HOSTILE)
    assert sorted(offered) == sorted(HOSTILE)
    assert not list(tmp_path.glob("pwned-*"))


def _container(name: str, **fields) -> Container:
    return Container(id=fields.pop("id", "3f" * 32), name=name, runtime="docker", **fields)


def test_candidates_drop_control_characters_and_option_lookalikes() -> None:
    containers = [
        _container("web\n$(touch /tmp/x)"),
        _container("web\x1b]0;title\x07"),
        _container("web\u202etxt"),
        _container("web\udcff"),
        _container("-rf"),
        _container("web two $(touch x)", id="ab" * 32),
        _container("ok", id="cd" * 32, pod="$(touch x)\nevil", k8s_container="c"),
        _container("api", id="ef" * 32, pod="shop", k8s_container="app"),
    ]
    plain = targets.candidates(containers, "")
    assert plain == ["docker:", "pod/", "web two $(touch x)", "ok", "api"]
    qualified = targets.candidates(containers, "pod/")
    assert qualified == ["pod/shop/app", "pod/shop"]
    assert targets.candidates(containers, "docker:") == [
        "docker:-rf",  # not like an option once qualified
        "docker:web two $(touch x)",
        "docker:ok",
        "docker:api",
    ]
    for text in plain + qualified:
        assert text.isprintable()


def test_candidates_give_ids_only_for_an_id_prefix() -> None:
    c = _container("web", id="3fa9" + "0" * 60)
    assert targets.candidates([c], "3f") == ["3fa900000000"]
    assert targets.candidates([c], "3fa90000000000") == [c.id]
    assert "3fa900000000" not in targets.candidates([c], "")


def test_candidates_name_containerd_namespaces_and_pids() -> None:
    c = Container(id="job", name="job", runtime="containerd", namespace="k8s.io", pid=4242)
    assert targets.candidates([c], "jo") == ["job"]  # its id is its name: offered once
    assert targets.candidates([c], "containerd:") == ["containerd:job", "containerd:k8s.io/job"]
    assert targets.candidates([c], "pid:") == ["pid:4242"]


def test_target_listing_never_writes_on_stderr_nor_fails(tmp_path) -> None:
    """As a user without privileges (no runtime answers): exit 0, nothing on stderr."""
    import sys

    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to drop root")
    drop = (
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    )
    result = subprocess.run(
        [*drop, sys.executable, "-m", "debugtool", "completion", "bash", "--complete-targets=x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path if os.geteuid() != 0 else "/",
        env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"},
    )
    assert result.returncode == 0
    assert result.stderr == ""


# --- install ------------------------------------------------------------------------------


def test_install_writes_the_script_atomically_in_the_directory(tmp_path, capsys) -> None:
    for shell, name in (("bash", "debugtool"), ("zsh", "_debugtool"), ("fish", "debugtool.fish")):
        expected = script(shell, capsys)
        target = tmp_path / shell
        assert main(["completion", shell, "--install", "--dir", str(target)]) == 0
        said = capsys.readouterr().out
        written = target / name
        assert said.startswith(f"Wrote {written}.")
        assert written.read_text() == expected
        assert stat.S_IMODE(written.stat().st_mode) == 0o644
        assert sorted(p.name for p in target.iterdir()) == [name]  # no temporary left


def test_install_failures_are_one_sentence(tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("")
    assert main(["completion", "bash", "--install", "--dir", str(tmp_path / "file")]) == 125
    err = capsys.readouterr().err
    assert err.startswith("debugtool: cannot write ") and err.count("\n") == 1
    assert "debugtool completion bash >" in err
    assert main(["completion", "bash", "--dir", str(tmp_path)]) == 125
    assert "--dir goes with --install" in capsys.readouterr().err
