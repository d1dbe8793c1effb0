"""Shell completion for the CLI: what the scripts know (``spec``), the scripts (``scripts``) and
the container targets they ask for on every TAB (``targets``).

The scripts are generated from the command modules' own ``register`` functions, so an option
added there is completed once the script is generated again (``debugtool completion SHELL``);
targets come live from ``debugtool completion SHELL --complete-targets=PREFIX``, which must stay
lean: ``targets`` imports nothing the hot commands do not.
"""

from __future__ import annotations

#: The shells a script is written for.
SHELLS = ("bash", "zsh", "fish")

#: Where ``--install`` writes each shell's script: a directory the shell (or bash-completion)
#: reads at start, kept for the local administrator (not the package manager's /usr/share).
INSTALL = {
    "bash": ("/etc/bash_completion.d", "debugtool"),
    "zsh": ("/usr/local/share/zsh/site-functions", "_debugtool"),
    "fish": ("/etc/fish/completions", "debugtool.fish"),
}
