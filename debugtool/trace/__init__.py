"""Syscall tracing of a container process, like strace, always detached after.

``binding`` is the raw ptrace(2) binding; ``access`` says whether a process may be traced;
``memory`` reads a tracee's memory; ``decode`` holds the one syscall table, the ``-e`` classes and
the decoding of arguments and results; ``tracer`` is the loop (seize, syscall stops, detach);
``lines`` writes a syscall as a line of text or JSON; ``summary`` is ``--summary``.
"""
