"""Which nodes a command line names: ``-H NODE[,NODE...]``, ``-H @group`` and Ansible inventories.

An inventory is Ansible's INI form (the form ``ansible-inventory`` and most sites keep): hosts
one a line with ``key=value`` variables, ``[group]`` sections, ``[group:children]`` and
``[group:vars]``, hosts before any section in ``ungrouped``, every host in ``all``, and numeric
ranges (``web[01:03]``). Of the variables, debugtool reads what ssh needs: ``ansible_host``,
``ansible_user``, ``ansible_port`` and ``ansible_python_interpreter``; the rest are kept aside
and ignored. YAML inventories are not read (see the README): parsing YAML needs PyYAML, a
dependency for one input format; ``ansible-inventory -i inv.yml --list`` writes the JSON form,
which debugtool reads.

A name given to ``-H`` that no inventory knows is a host for ssh itself, written as ssh takes it
(``[user@]host[:port]``), so ``-H web1,web2`` works with the user's ``~/.ssh/config`` alone.
"""

from __future__ import annotations

from debugtool.errors import UsageError
from debugtool.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


@record(frozen=True)
class Node:
    """One node: the name people see (the NODE column) and how ssh reaches it.

    ``host`` is what ssh is given (an address, or a name its config resolves); ``user`` and
    ``port`` are passed only when set, so ssh_config's ``User`` and ``Port`` apply otherwise.
    """

    name: str
    host: str
    user: str | None = None
    port: int | None = None
    python: str = "python3"


@record
class Inventory:
    """Hosts and groups read from an inventory file."""

    hosts: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> variables
    groups: dict[str, list[str]] = field(default_factory=dict)  # name -> hosts, in order
    children: dict[str, list[str]] = field(default_factory=dict)  # group -> child groups
    group_vars: dict[str, dict[str, str]] = field(default_factory=dict)

    def members(self, group: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """Return the hosts of ``group`` and of its children, each once, in inventory order."""
        if group == "all":
            return list(self.hosts)
        if group not in self.groups and group not in self.children:
            raise UsageError(
                f"the inventory has no group '{group}'.",
                f"Its groups: {', '.join(sorted(self.group_names())) or 'none'}.",
            )
        names = list(self.groups.get(group, []))
        for child in self.children.get(group, []):
            if child not in seen:
                names += self.members(child, seen | {group})
        return list(dict.fromkeys(names))

    def group_names(self) -> set[str]:
        return {"all", *self.groups, *self.children}

    def variables(self, host: str) -> dict[str, str]:
        """Return ``host``'s variables: ``all``'s, then its groups' (parents before children),
        then its own, the later winning as Ansible's precedence has it."""
        merged = dict(self.group_vars.get("all", {}))
        for group in self._groups_of(host):
            merged.update(self.group_vars.get(group, {}))
        merged.update(self.hosts.get(host, {}))
        return merged

    def _groups_of(self, host: str) -> list[str]:
        direct = [g for g, members in self.groups.items() if host in members]
        ordered: list[str] = []
        for group in direct:
            ordered += [p for p in self._parents(group) if p not in ordered]
            if group not in ordered:
                ordered.append(group)
        return ordered

    def _parents(self, group: str, seen: frozenset[str] = frozenset()) -> list[str]:
        parents: list[str] = []
        for parent, kids in self.children.items():
            if group in kids and parent not in seen:
                parents += self._parents(parent, seen | {group}) + [parent]
        return parents

    def node(self, name: str) -> Node:
        """Return host ``name`` as a ``Node``."""
        values = self.variables(name)
        port = values.get("ansible_port") or values.get("ansible_ssh_port")
        return Node(
            name=name,
            host=values.get("ansible_host") or values.get("ansible_ssh_host") or name,
            user=values.get("ansible_user") or values.get("ansible_ssh_user") or None,
            port=_port(port, f"ansible_port of {name}") if port else None,
            python=values.get("ansible_python_interpreter") or "python3",
        )


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"{what} must be a port number from 1 to 65535, not '{text}'.")
    return int(text)


def _expand(pattern: str, where: str) -> list[str]:
    """Return the host names an inventory pattern stands for: ``web[01:03]`` is three."""
    start = pattern.find("[")
    if start < 0:
        return [pattern]
    end = pattern.find("]", start)
    low, colon, high = pattern[start + 1 : end].partition(":")
    if end < 0 or not colon or not (low.isdigit() and high.isdigit()) or int(low) > int(high):
        raise UsageError(f"{where}: '{pattern}' is not a host range like web[01:03].")
    width = len(low) if low.startswith("0") else 0
    head, tail = pattern[:start], pattern[end + 1 :]
    return [
        name
        for n in range(int(low), int(high) + 1)
        for name in _expand(f"{head}{n:0{width}d}{tail}", where)
    ]


def parse_ini(text: str, source: str = "inventory") -> Inventory:
    """Return the inventory of Ansible INI ``text``; raises ``UsageError`` on a line it cannot
    read (naming ``source`` and the line)."""
    import shlex

    inventory = Inventory()
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{source}:{number}"
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise UsageError(f"{where}: '{line}' is not a [group] header.")
            section, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "children", "vars"):
                raise UsageError(f"{where}: [{line[1:-1]}] is not hosts, children or vars.")
            if kind == "hosts":
                inventory.groups.setdefault(section, [])
            elif kind == "children":
                inventory.children.setdefault(section, [])
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}.") from None
        if not words:
            continue
        if kind == "vars":
            key, eq, value = line.partition("=")
            if not eq:
                raise UsageError(f"{where}: '{line}' is not key=value.")
            inventory.group_vars.setdefault(section, {})[key.strip()] = value.strip()
        elif kind == "children":
            inventory.children[section].append(words[0])
        else:
            variables = {}
            for word in words[1:]:
                key, eq, value = word.partition("=")
                if not eq:
                    raise UsageError(f"{where}: '{word}' is not key=value.")
                variables[key] = value
            for name in _expand(words[0], where):
                inventory.hosts.setdefault(name, {}).update(variables)
                members = inventory.groups.setdefault(section, [])
                if name not in members:
                    members.append(name)
    return inventory


def load_inventory(path: str) -> Inventory:
    """Read the inventory file at ``path``; raises ``UsageError`` when it cannot."""
    try:
        with open(path, "rb") as f:
            data = f.read(4 << 20)
    except OSError as exc:
        raise UsageError(f"cannot read the inventory {path} ({exc.strerror}).") from None
    text = data.decode("utf-8", "replace")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if first.startswith("{"):
        return parse_json(text, path)
    if path.endswith((".yml", ".yaml")) or first in ("---", "all:"):
        raise UsageError(
            f"{path} is a YAML inventory; debugtool reads Ansible's INI and JSON forms.",
            f"Convert it once: ansible-inventory -i {path} --list > inventory.json",
        )
    return parse_ini(text, path)


def parse_json(text: str, source: str = "inventory") -> Inventory:
    """Return the inventory of ``ansible-inventory --list`` JSON ``text`` (groups with
    ``hosts``, ``children`` and ``vars``; host variables under ``_meta.hostvars``)."""
    import json

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{source} is not JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise UsageError(f"{source} is not an ansible-inventory --list document.")
    inventory = Inventory()
    hostvars = (data.get("_meta") or {}).get("hostvars") or {}
    for group, body in data.items():
        if group == "_meta" or not isinstance(body, dict):
            continue
        hosts = [str(h) for h in body.get("hosts") or []]
        if group != "all" or hosts:
            inventory.groups[group] = hosts
        if body.get("children"):
            inventory.children[group] = [str(c) for c in body["children"]]
        if isinstance(body.get("vars"), dict):
            inventory.group_vars[group] = {k: str(v) for k, v in body["vars"].items()}
        for host in hosts:
            inventory.hosts.setdefault(host, {})
    for host, values in hostvars.items():
        if isinstance(values, dict):
            inventory.hosts.setdefault(str(host), {}).update(
                {str(k): str(v) for k, v in values.items()}
            )
    return inventory


def _direct(word: str) -> Node:
    """Return a node written as ssh takes it: ``[user@]host[:port]``."""
    user, at, rest = word.rpartition("@")
    host, port = rest, None
    if rest.count(":") == 1:  # host:port; an IPv6 address has more colons
        host, _, port_text = rest.partition(":")
        port = _port(port_text, f"the port of -H {word}")
    if rest.startswith("[") and "]" in rest:  # [v6]:port
        host, _, tail = rest[1:].partition("]")
        port = _port(tail[1:], f"the port of -H {word}") if tail.startswith(":") else None
    if not host or host.startswith("-") or any(c.isspace() for c in word):
        raise UsageError(f"-H '{word}' is not a node name or [user@]host[:port].")
    return Node(name=word, host=host, user=(user or None) if at else None, port=port)


def select(spec: Iterable[str], inventory: Inventory | None) -> list[Node]:
    """Return the nodes ``-H`` names (each ``spec`` item comma-separated), in order, each once.

    ``@group`` is an inventory group (``@all`` every host); a name the inventory holds is that
    host; any other name is a host for ssh itself. Raises ``UsageError`` for ``@group``
    without an inventory, or for an empty list.
    """
    nodes: dict[str, Node] = {}
    for item in spec:
        for word in filter(None, (w.strip() for w in item.split(","))):
            if word.startswith("@"):
                if inventory is None:
                    raise UsageError(
                        f"-H {word} names an inventory group, and no --inventory was given."
                    )
                for name in inventory.members(word[1:]):
                    nodes.setdefault(name, inventory.node(name))
            elif inventory is not None and word in inventory.hosts:
                nodes.setdefault(word, inventory.node(word))
            else:
                nodes.setdefault(word, _direct(word))
    if not nodes:
        raise UsageError("-H names no node.", "Give -H NODE[,NODE...] or -H @group.")
    return list(nodes.values())
