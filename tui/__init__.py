"""The Textual TUI of debugtool (``debugtool tui``); imported only by that command."""
