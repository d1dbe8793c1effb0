"""``debugtool completion``: a completion script for bash, zsh or fish, printed or installed."""

from __future__ import annotations

from debugtool.completion import INSTALL, SHELLS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from debugtool.argv import SubcommandsLike

ORDER = 95

#: argparse's marker of an option left out of the help (``argparse.SUPPRESS``).
_HIDDEN = "==SUPPRESS=="


def register(sub: SubcommandsLike) -> None:
    paths = ", ".join(f"{shell} {'/'.join(INSTALL[shell])}" for shell in SHELLS)
    p = sub.add_parser(
        "completion",
        help="print or install a shell completion script (bash, zsh, fish)",
        description="Print a completion script for SHELL, or install it with --install. It "
        "completes commands, their options, the values of options that take a choice, a file "
        "or a directory, and container targets of every runtime (names, RUNTIME:NAME, pod/NAME, "
        "id prefixes), which it asks debugtool for on each TAB (within a second, silently). "
        "The script is written from this debugtool's own command line: write it again after "
        f"an upgrade. --install writes it where the shell reads it: {paths}.",
        epilog="Examples: debugtool completion bash --install; "
        "source <(debugtool completion bash); debugtool completion fish > ~/.config/fish/"
        "completions/debugtool.fish",
    )
    p.add_argument("shell", metavar="SHELL", choices=SHELLS, help="bash, zsh or fish")
    p.add_argument(
        "--install",
        action="store_true",
        help="write the script where SHELL reads it (as root) instead of printing it",
    )
    p.add_argument(
        "--dir",
        metavar="DIR",
        help="with --install: write it in this directory instead",
    )
    # What the scripts run on each TAB that completes a container target: left out of the help
    # (argparse hides an option whose help is its SUPPRESS object itself, not an equal string).
    hidden = _HIDDEN
    if hasattr(p, "format_help"):  # argparse's parser, so argparse is imported already
        import argparse

        hidden = argparse.SUPPRESS
    p.add_argument("--complete-targets", metavar="PREFIX", help=hidden)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.complete_targets is not None:
        from debugtool.completion.targets import print_targets

        return print_targets(args.complete_targets)
    import sys

    from debugtool import __version__
    from debugtool.completion import scripts, spec
    from debugtool.errors import UsageError

    if args.dir and not args.install:
        raise UsageError("--dir goes with --install.", "Add --install, or leave --dir out.")
    script = scripts.write(args.shell, spec.read(), __version__)
    if not args.install:
        sys.stdout.write(script)
        return 0
    directory, name = INSTALL[args.shell]
    path = install(script, args.dir or directory, name, args.shell)
    sys.stdout.write(f"Wrote {path}. {_LOADED[args.shell]}\n")
    return 0


_LOADED = {
    "bash": "New bash shells load it through the bash-completion package; without that "
    "package, add 'source /etc/bash_completion.d/debugtool' to ~/.bashrc.",
    "zsh": "New zsh shells that run compinit load it (the directory is on $fpath); in this "
    "one, run 'autoload -U compinit && compinit'.",
    "fish": "New fish shells load it.",
}


def install(script: str, directory: str, name: str, shell: str) -> str:
    """Write ``script`` as ``directory/name`` (mode 0644, the directory made if missing),
    atomically: a shell starting meanwhile reads the old script or the new one, never half.
    Returns the path; raises ``PermissionDenied`` or ``DebugtoolError`` with one sentence."""
    import os

    from debugtool.errors import DebugtoolError, PermissionDenied
    from debugtool.output import printable

    path = os.path.join(directory, name)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            os.fchmod(fd, 0o644)  # whatever the umask
            data = script.encode()
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        sentence = f"cannot write {printable(path)}: {exc.strerror or exc}."
        instead = f"Or write it yourself: debugtool completion {shell} > {printable(path)}"
        if isinstance(exc, PermissionError):
            raise PermissionDenied(sentence, hint=f"Run it as root. {instead}") from None
        raise DebugtoolError(sentence, instead) from None
    return path
