"""Command lines read without argparse on the common path; argparse for help and every error.

Importing ``argparse`` imports ``re``, ``gettext`` and ``enum`` (about 8 ms), and building a
parser costs more again: as much as the Docker API round trip of ``debugtool ps``. Yet nearly
every command line a person or a script types is plain: known options, their values, the
positional arguments. So each command's ``register`` function declares its options once, to an
``Options`` recorder here or to argparse alike, and ``parse`` reads a command line against the
record. Whatever ``parse`` is not sure of (``--help``, an unknown or abbreviated option, a value
that starts with ``-``, a type or choice that refuses a value, a missing argument, ``--`` before
the positionals, optional positionals) it declines, returning None, and the caller runs argparse
on the same words, which prints the help or the one-sentence error. tests/unit/test_argv.py
checks, for every command, that whatever ``parse`` accepts argparse reads the same way.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Protocol

    class OptionsLike(Protocol):
        """What ``register`` functions call: an ``argparse.ArgumentParser`` or an ``Options``."""

        def add_argument(self, *flags: str, **kwargs: Any) -> Any: ...

        def set_defaults(self, **kwargs: Any) -> None: ...

    class SubcommandsLike(Protocol):
        """``argparse``'s subparsers action, or ``Subcommands``."""

        def add_parser(self, name: str, **kwargs: Any) -> Any: ...


#: ``nargs`` of a positional that takes every word after it, options included
#: (``argparse.REMAINDER``).
REMAINDER = "..."

#: The ``add_argument`` keywords ``parse`` reads; the rest (help, metavar) are for argparse.
_ACTIONS = ("store", "store_true", "append")


class Namespace:
    """The parsed command line: one attribute per option and positional (``argparse``'s)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __eq__(self, other: object) -> bool:
        return vars(self) == vars(other)

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...  # any option, as argparse's Namespace

        def __setattr__(self, name: str, value: Any) -> None: ...

    def __repr__(self) -> str:
        return f"Namespace({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class _Option:
    __slots__ = ("flags", "dest", "action", "nargs", "type", "default", "choices", "required")

    def __init__(self, flags: Sequence[str], kwargs: dict[str, Any]) -> None:
        self.flags = tuple(flags)
        longs = [f for f in flags if f.startswith("--")]
        positional = not flags[0].startswith("-")
        name = flags[0] if positional else (longs or flags)[0].lstrip("-")
        self.dest: str = kwargs.get("dest") or name.replace("-", "_")
        self.action = kwargs.get("action", "store")
        self.nargs = kwargs.get("nargs")
        self.type = kwargs.get("type")
        self.choices = kwargs.get("choices")
        self.required = kwargs.get("required", positional and self.nargs is None)
        default = kwargs.get("default")
        if self.action == "store_true" and "default" not in kwargs:
            default = False
        if positional and self.nargs == REMAINDER and "default" not in kwargs:
            default = None
        self.default = default


class Options:
    """A recorder of one parser's ``add_argument`` and ``set_defaults`` calls."""

    def __init__(self) -> None:
        self.options: dict[str, _Option] = {}  # by flag
        self.positionals: list[_Option] = []
        self.all: list[_Option] = []
        self.defaults: dict[str, Any] = {}
        self.plain = True  # False: something parse does not read; argparse does it all

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        option = _Option(flags, kwargs)
        if option.action in ("help", "version"):  # argparse prints and exits: its business
            for flag in flags:
                self.options[flag] = option
            return
        if option.action not in _ACTIONS or (option.action != "store" and option.nargs):
            self.plain = False
        if flags[0].startswith("-"):
            if option.nargs is not None:
                self.plain = False
            for flag in flags:
                self.options[flag] = option
        else:
            if option.nargs not in (None, REMAINDER):
                self.plain = False
            self.positionals.append(option)
        self.all.append(option)

    def set_defaults(self, **kwargs: Any) -> None:
        self.defaults.update(kwargs)

    def parse(self, words: Sequence[str], into: dict[str, Any]) -> bool:
        """Read ``words`` into ``into`` as argparse would; return False to decline."""
        if not self.plain:
            return False
        for option in self.all:
            if option.dest not in into:
                into[option.dest] = option.default
        given: set[str] = set()
        positionals = self.positionals
        taken = 0  # positionals filled
        i, n = 0, len(words)
        while i < n:
            if taken < len(positionals) and positionals[taken].nargs == REMAINDER and taken:
                # After the positional before it, a REMAINDER takes every word, options
                # included; a '--' right after that positional is dropped (argparse's A-*).
                rest = words[i + 1 :] if words[i] == "--" else words[i:]
                into[positionals[taken].dest] = list(rest)
                given.add(positionals[taken].dest)
                taken += 1
                break
            word = words[i]
            if word.startswith("-") and word != "-":
                if word == "--":
                    return False  # argparse's '--' rules: leave them to argparse
                value: str | None = None
                if word.startswith("--"):
                    flag, eq, rest_text = word.partition("=")
                    known = self.options.get(flag)
                    if known is None:
                        return False  # unknown, or an abbreviation: argparse resolves it
                    option = known
                    if eq:
                        if option.action == "store_true":
                            return False
                        value = rest_text
                elif len(word) > 2:  # -it: several flags that take no value
                    flags = [self.options.get(f"-{c}") for c in word[1:]]
                    if not all(f is not None and f.action == "store_true" for f in flags):
                        return False
                    for f in flags:
                        into[f.dest] = True  # type: ignore[union-attr]
                    i += 1
                    continue
                else:
                    found = self.options.get(word)
                    if found is None:
                        return False
                    option = found
                if option.action in ("help", "version"):
                    return False
                if option.action == "store_true":
                    into[option.dest] = True
                    i += 1
                    continue
                if value is None:
                    if i + 1 >= n or words[i + 1].startswith("-"):
                        return False
                    value = words[i + 1]
                    i += 1
                converted = self._convert(option, value)
                if converted is _DECLINE:
                    return False
                if option.action == "append":
                    into[option.dest] = [*(into[option.dest] or []), converted]
                else:
                    into[option.dest] = converted
                given.add(option.dest)
                i += 1
                continue
            if taken >= len(positionals) or positionals[taken].nargs == REMAINDER:
                return False  # an extra word, or a REMAINDER first: argparse's business
            positional = positionals[taken]
            converted = self._convert(positional, word)
            if converted is _DECLINE:
                return False
            into[positional.dest] = converted
            given.add(positional.dest)
            taken += 1
            i += 1
        for positional in positionals[taken:]:
            if positional.nargs == REMAINDER:
                into[positional.dest] = []
                given.add(positional.dest)
        return self._finish(into, given)

    def _finish(self, into: dict[str, Any], given: set[str]) -> bool:
        for option in self.all:
            if option.required and option.dest not in given:
                return False
            default = option.default
            if (
                option.dest not in given
                and isinstance(default, str)
                and option.type is not None
                and into[option.dest] is default
            ):
                converted = self._convert(option, default)
                if converted is _DECLINE:
                    return False
                into[option.dest] = converted
        for key, value in self.defaults.items():
            into.setdefault(key, value)
        return True

    @staticmethod
    def _convert(option: _Option, text: str) -> Any:
        value: Any = text
        if option.type is not None:
            try:
                value = option.type(text)
            except Exception:
                return _DECLINE  # argparse raises the same error, or words it
        if option.choices is not None and value not in option.choices:
            return _DECLINE
        return value


_DECLINE: Any = object()


class Subcommands:
    """A recorder of ``add_parser`` calls (``argparse``'s subparsers action)."""

    def __init__(self) -> None:
        self.parsers: dict[str, Options] = {}

    def add_parser(self, name: str, **_kwargs: Any) -> Options:
        options = self.parsers[name] = Options()
        return options


def parse(
    words: Sequence[str],
    at: int,
    add_globals: Callable[[Any], None],
    register: Callable[[Any], None],
) -> Namespace | None:
    """Read a whole command line: global options, then the command named at ``words[at]``
    and its own options. ``add_globals`` declares the global options and ``register`` the
    command's (each is called with a recorder). Returns None when argparse must read it.
    """
    command = words[at]
    top = Options()
    add_globals(top)
    subcommands = Subcommands()
    register(subcommands)
    sub = subcommands.parsers.get(command)
    values: dict[str, Any] = {}
    if sub is None or not top.parse(words[:at], values):
        return None
    values["command"] = command
    if not sub.parse(words[at + 1 :], values):
        return None
    return Namespace(**values)
