"""``debugtool.argv`` reads a command line as argparse does, or declines it.

For every command, command lines are generated from its declared options (every flag, values
its types accept and refuse, positionals, ``--``, options before and after the positionals);
whatever the fast reader accepts must come out of argparse the same, attribute for attribute.
"""

from __future__ import annotations

import random

import pytest

from debugtool import argv, cli
from debugtool.commands import NAMES
from debugtool.errors import DebugtoolError

SAMPLES = ["1", "2.5", "0", "-1", "abc", "10m", "20M", "nan", "x=y", "/tmp/b.tgz", "root"]
TARGETS = ["web", "pid:1", "docker:web", "-", "3f2a"]
COMMAND_TAILS = [[], ["true"], ["--", "true"], ["--", "ls", "-l"], ["sh", "-c", "x"], ["-i"]]
COMMAND_TAILS += [["--"], ["--", "--", "x"], ["ls", "--", "-x"], ["--json"]]


def recorded(name: str) -> argv.Options:
    subcommands = argv.Subcommands()
    cli._command_module(name).register(subcommands)
    return subcommands.parsers[name]


def option_words(option: argv._Option, rng: random.Random) -> list[str]:
    flag = rng.choice(option.flags)
    if option.action == "store_true":
        return [flag]
    values = [str(c) for c in option.choices] if option.choices else SAMPLES
    value = rng.choice(values)
    if flag.startswith("--") and rng.random() < 0.3:
        return [f"{flag}={value}"]
    return [flag, value]


def command_lines(name: str, count: int = 400) -> list[list[str]]:
    rng = random.Random(f"argv-{name}")
    options = recorded(name)
    flagged = list({id(o): o for o in options.options.values()}.values())
    lines = []
    for _ in range(count):
        before: list[str] = []
        for _ in range(rng.randint(0, 2)):
            before += rng.choice([["--timeout", rng.choice(SAMPLES)], ["--oci-root", "/r"]])
        words: list[str] = []
        for _ in range(rng.randint(0, 4)):
            words += option_words(rng.choice(flagged), rng) if flagged else []
        shorts = [o.flags[0] for o in flagged if o.action == "store_true" and len(o.flags[0]) == 2]
        if len(shorts) >= 2 and rng.random() < 0.2:
            words.append("-" + "".join(f[1] for f in rng.sample(shorts, 2)))
        positional: list[str] = []
        for p in options.positionals:
            if p.nargs == argv.REMAINDER:
                positional += rng.choice(COMMAND_TAILS)
            elif rng.random() < 0.9:  # a choice (completion's SHELL) most of the time, if any
                choices = [str(c) for c in p.choices or ()] if rng.random() < 0.9 else []
                positional.append(rng.choice(choices or TARGETS))
        cut = rng.randint(0, len(words))
        if rng.random() < 0.1:
            words.append(rng.choice(["--help", "--nope", "-z", "--js", "--"]))
        lines.append([*before, name, *words[:cut], *positional, *words[cut:]])
    return lines


def argparse_reading(words: list[str]) -> dict[str, object] | None:
    try:
        return vars(cli.build_parser(cli._command_name(words)).parse_args(words))
    except (DebugtoolError, SystemExit):
        return None


@pytest.mark.parametrize("name", NAMES)
def test_whatever_the_fast_reader_accepts_argparse_reads_the_same(name: str) -> None:
    accepted = 0
    for words in command_lines(name):
        fast = argv.parse(words, cli._command_index(words) or 0, cli.add_global_options,
                          cli._command_module(name).register)  # fmt: skip
        if fast is None:
            continue
        accepted += 1
        assert vars(fast) == argparse_reading(words), words
    if recorded(name).plain:
        assert accepted > 50, f"{name}: the fast reader declined nearly everything"


@pytest.mark.parametrize(
    "words",
    [
        ["ps", "--json"],
        ["ps", "--runtime", "docker", "--json"],
        ["--timeout", "5", "ps", "-a"],
        ["exec", "--mode", "ns", "3f2a", "--", "true"],
        ["exec", "-it", "web", "sh"],
        ["exec", "-e", "A=1", "-e", "B=2", "-u", "root", "web", "--", "id", "-u"],
        ["top", "web", "--json"],
        ["net", "pid:1", "--json"],
        ["inspect", "web"],
    ],
)
def test_everyday_command_lines_take_the_fast_path(words: list[str]) -> None:
    fast = cli.parse_args(words)
    assert isinstance(fast, argv.Namespace)
    assert vars(fast) == argparse_reading(words)


def test_help_errors_and_unknown_words_go_to_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["ps", "--help"])
    assert "usage: debugtool ps" in capsys.readouterr().out
    with pytest.raises(DebugtoolError, match="unrecognized arguments: --nope"):
        cli.parse_args(["ps", "--nope"])
    with pytest.raises(DebugtoolError, match="--timeout"):
        cli.parse_args(["--timeout", "nan", "ps"])
    # An abbreviation argparse expands: declined by the fast reader, read by argparse.
    assert cli.parse_args(["ps", "--js"]).json is True
