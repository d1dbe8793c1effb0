"""Beyond one host: debugtool run on other nodes through the system's OpenSSH client.

A node is reached with ``ssh`` as the user would reach it (their ``~/.ssh/config``, agent,
ProxyJump, ControlMaster and known_hosts apply; host keys are always checked), and runs
debugtool's own core there, sent over the connection as a zipapp and cached on the node by
its hash. Nothing listens, nothing is installed on a node but that cache.

- ``nodes``: which nodes ``-H`` and ``--inventory`` name (Ansible INI inventories, groups,
  ``ansible_host``/``ansible_user``/``ansible_port``).
- ``zipapp``: the core as a zipapp, its hash, and the bootstrap a node runs first.
- ``transport``: ``ssh`` command lines; ``run_many`` runs one debugtool command line on many
  nodes in parallel (``forks``, a timeout each) and says how each ended; ``fetch_file``
  streams one remote file back; ``run_interactive`` runs one command on one node with the
  operator's terminal.
- ``merge``: the answers of many nodes as one table (a NODE column), one JSON document
  (``node`` in every object) or lines marked with their node.
- ``command``: what ``debugtool -H ... COMMAND`` does with them.
"""
