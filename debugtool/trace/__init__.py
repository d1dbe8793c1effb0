"""Syscall tracing of a container process with ptrace (being split into modules: see tracer.py)."""

from debugtool.trace.tracer import *  # noqa: F403 - until the split, callers use the old names
from debugtool.trace.tracer import _comm  # noqa: F401
