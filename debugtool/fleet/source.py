"""The containers of many nodes as one live ``Source``: what ``debugtool tui -H`` shows.

Each node is asked on its own (``debugtool ps -a --json --stats`` through
``transport.run_many``, one ssh session per node per poll at most, on a ControlMaster of
ours: ``fleet.masters``), in a pool of ``forks`` threads, so a slow or hung node delays
nobody's rows but its own. The cgroup sample of each running container in a listing is what
the list's CPU and MEM columns are made of (two listings make a rate), so they cost no
session of their own.
``containers()`` never waits for a node: it starts a poll of each node that is due and returns
what every node said last. A node that stops answering keeps its last containers, marked
``stale``, and says why and since when (``NodeState``).

In a fleet a container is named ``NODE/ID``, as a target is on the command line: the ids of
the containers this source returns are qualified so, since two nodes may hold the same id (a
cloned VM, or the test's namespaces that share one host's runtimes). ``node_of`` and
``local_id`` take such an id apart. Opening a container asks its node alone
(``snapshot ID --json``, ``inspect ID --json``).

``FleetArchiveSource`` is the same shape read from a fleet bundle (``bundle -H``'s archive,
``debugtool.bundle.fleet``): every node's bundle that the archive holds, each node's status as
its index recorded it, read-only.
"""

from __future__ import annotations

import threading
import time

from debugtool.audit import Record
from debugtool.errors import ContainerNotFound, DebugtoolError, UsageError
from debugtool.fleet import transport
from debugtool.logs.sources import Log
from debugtool.record import field, record, replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from concurrent.futures import ThreadPoolExecutor
    from typing import Any

    from debugtool.collect.hostload import HostLoad
    from debugtool.fleet.masters import Masters
    from debugtool.fleet.nodes import Node
    from debugtool.logs.formats import LogLine
    from debugtool.model import Container
    from debugtool.runtimes import Discovery
    from debugtool.snapshot import CgroupStats, Mount, Network, Process, ProcessDetail, Snapshot

#: The status a container of a node that stopped answering is shown with.
STALE = "stale"
#: Seconds between two polls of one node, at least (a poll is an ssh session and a python
#: start on the node).
EVERY = 2.0
#: What a node runs to list its containers, with a cgroup sample of each running one (two
#: polls make the list's CPU and MEM rates).
LIST_ARGV = ("ps", "-a", "--json", "--stats")
#: The same for a node whose debugtool is older than ``ps --stats`` (no usage then).
PLAIN_LIST_ARGV = ("ps", "-a", "--json")


def qualified(node: str, container_id: str) -> str:
    """Return the fleet id of a node's container: ``NODE/ID``."""
    return f"{node}/{container_id}"


def node_of(container: Container) -> str:
    """Return the node of a container of a fleet source (``""`` for one of a single host)."""
    node, slash, _ = container.id.partition("/")
    return node if slash else ""


def local_id(container: Container) -> str:
    """Return a fleet container's id on its own node."""
    node, slash, rest = container.id.partition("/")
    return rest if slash else node


@record
class NodeState:
    """What the fleet source knows of one node: its containers as it last listed them (ids
    qualified), when that was, and, while it does not answer, why and since when."""

    name: str
    containers: list[Container]
    warnings: list[str]
    answered_at: float | None = None  # wall clock of the last good listing
    failing_since: float | None = None  # wall clock of the first failed poll in a row
    message: str = ""  # why it does not answer (one sentence)
    polled: bool = False  # whether any poll of it has ended
    status: str = ""  # a fleet archive's: the node's status in its index (ok, unreachable...)
    #: Each running container's cgroup sample of the last listing (qualified id -> sample).
    stats: dict[str, CgroupStats] = field(default_factory=dict)

    @property
    def answering(self) -> bool:
        return self.polled and self.failing_since is None


class FleetSource:
    """Many nodes' containers, each node polled on its own (see the module's docstring)."""

    live = True
    read_only = False
    fleet = True

    def __init__(
        self,
        nodes: list[Node],
        connection: transport.Connection,
        forks: int = transport.FORKS,
        timeout: float = transport.NODE_TIMEOUT,
        every: float = EVERY,
        masters: bool = True,
        clock: Callable[[], float] = time.time,
        fleet_argv: list[str] | None = None,
    ) -> None:
        self.nodes = list(nodes)
        self.by_name = {n.name: n for n in self.nodes}
        self.connection = connection
        self.forks = max(1, forks)
        self.timeout = timeout
        self.every = every
        self.clock = clock
        #: The fleet options that reach these nodes again (``--inventory``, ``--ssh-config``...):
        #: what a ``debugtool -H NODE exec`` run from the TUI is given.
        self.fleet_argv = list(fleet_argv or [])
        self._masters: Masters | None = None
        if masters:
            from debugtool.fleet.masters import Masters

            self._masters = Masters(connection)
        self._states = {n.name: NodeState(n.name, [], []) for n in self.nodes}
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._ended: dict[str, float] = {}  # node -> monotonic time its last poll ended
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self._plain: set[str] = set()  # nodes whose debugtool has no ps --stats

    # --- the nodes ----------------------------------------------------------------------------
    def node_states(self) -> list[NodeState]:
        """Return each node's state, in the order the nodes were given."""
        with self._lock:
            return [replace(self._states[n.name]) for n in self.nodes]

    def node(self, container: Container) -> Node:
        """Return the node of a container of this source; raises ``ContainerNotFound``."""
        found = self.by_name.get(node_of(container))
        if found is None:
            raise ContainerNotFound(f"{container.name} is of no node of this TUI.")
        return found

    def _connection(self, node: Node) -> transport.Connection:
        return self._masters.connection(node) if self._masters else self.connection

    def _run(self, node: Node, argv: list[str]) -> transport.Outcome:
        """Run debugtool ``argv`` on ``node`` (one ssh session); return how it ended."""
        (outcome,) = transport.run_many(
            [node], argv, self._connection(node), "plain", 1, self.timeout
        )
        return outcome

    def _answer(self, node: Node, argv: list[str]) -> bytes:
        """Run ``argv`` on ``node``; return its stdout, or raise what went wrong."""
        outcome = self._run(node, argv)
        if outcome.status != transport.OK:
            said = outcome.message or f"exited {outcome.exit_code}"
            raise DebugtoolError(f"{node.name}: {said.rstrip('.')}.")
        return outcome.stdout

    def _list_argv(self, node: Node) -> list[str]:
        return list(PLAIN_LIST_ARGV if node.name in self._plain else LIST_ARGV)

    # --- polling -------------------------------------------------------------------------------
    def poll_due(self) -> list[str]:
        """Start a listing of every node that is due (not being asked, and last asked
        ``every`` seconds ago or more); return their names. Never waits for a node."""
        if self._closed:
            return []
        now = time.monotonic()
        due: list[str] = []
        with self._lock:
            for node in self.nodes:
                name = node.name
                if name in self._in_flight or now - self._ended.get(name, -1e9) < self.every:
                    continue
                self._in_flight.add(name)
                due.append(name)
            if due and self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.forks, thread_name_prefix="fleet-poll")
        for name in due:
            assert self._pool is not None
            self._pool.submit(self._poll, self.by_name[name])
        return due

    def _poll(self, node: Node) -> None:
        """List ``node``'s containers (a worker thread's job) and keep what it said."""
        stats: dict[str, CgroupStats] = {}
        try:
            outcome = self._run(node, self._list_argv(node))
            if _lacks_stats(outcome):  # a debugtool older than ps --stats: without, from now
                self._plain.add(node.name)
                outcome = self._run(node, self._list_argv(node))
            listing, warnings, error = _listing(node.name, outcome, stats)
        except Exception as exc:  # a bug here must not stop this node being polled again
            listing, warnings, error = None, [], f"could not be listed ({exc})"
        now = self.clock()
        with self._lock:
            state = self._states[node.name]
            state.polled = True
            if listing is not None:
                state.containers = listing
                state.stats = stats
                state.warnings = warnings
                state.answered_at = now
                state.failing_since = None
                state.message = ""
            else:
                if state.failing_since is None:
                    state.failing_since = now
                state.message = error
            self._in_flight.discard(node.name)
            self._ended[node.name] = time.monotonic()

    def refresh(self, wait: float = 0.0) -> None:
        """Ask every node now (``r``), however recently it was asked; one being asked is not
        asked twice. With ``wait``, wait up to that many seconds for their answers."""
        with self._lock:
            self._ended.clear()
        self.poll_due()
        if wait:
            self.wait(wait)

    def wait(self, timeout: float) -> None:
        """Wait until no node is being asked, or ``timeout`` seconds (for a first listing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._in_flight:
                    return
            time.sleep(0.05)

    # --- Source --------------------------------------------------------------------------------
    def banner(self, now: float) -> str:
        return ""

    def containers(self) -> Discovery:
        """Return every node's containers as last listed (a silent node's marked ``stale``),
        after starting a poll of each node that is due."""
        from debugtool.runtimes import Discovery

        self.poll_due()
        found: list[Container] = []
        warnings: list[str] = []
        for state in self.node_states():
            if state.failing_since is None:
                found += state.containers
                warnings += [f"{state.name}: {w}" for w in state.warnings]
            else:
                found += [replace(c, status=STALE, pid=None) for c in state.containers]
        return Discovery(containers=found, warnings=warnings)

    def listing_of(self, container: Container) -> Discovery:
        """Return the containers of ``container``'s node as it lists them now (one session
        with that node alone); when it does not answer, as it last listed them, ``stale``."""
        from debugtool.runtimes import Discovery

        node = self.node(container)
        listing, warnings, _error = _listing(node.name, self._run(node, list(PLAIN_LIST_ARGV)))
        if listing is None:
            with self._lock:
                known = list(self._states[node.name].containers)
            return Discovery(containers=[replace(c, status=STALE, pid=None) for c in known])
        return Discovery(containers=listing, warnings=warnings)

    def find(self, text: str, names_container: bool = True) -> Container:
        """Resolve ``NODE/TARGET`` on that node (``TARGET`` alone when there is one node), with
        the rules of ``target.find`` for ``TARGET``; asks that node alone."""
        from debugtool.runtimes import Discovery
        from debugtool.target import find

        name, slash, inner = text.strip().partition("/")
        if not (slash and name in self.by_name and inner):
            if len(self.nodes) != 1:
                names = ", ".join(self.by_name)
                raise UsageError(
                    f"over several nodes a container is named NODE/TARGET ('{text}' names "
                    f"no node of {names}).",
                    f"For example: {self.nodes[0].name}/web",
                )
            name, inner = self.nodes[0].name, text.strip()
        node = self.by_name[name]
        listing, _warnings, error = _listing(name, self._run(node, list(PLAIN_LIST_ARGV)))
        if listing is None:
            raise DebugtoolError(f"{name}: {error}.")
        plain = [replace(c, id=local_id(c)) for c in listing]
        return _on(name, find(inner, Discovery(containers=plain), live=False))

    def snapshot(self, container: Container, network: bool = True) -> Snapshot:
        """Return a snapshot of the container taken on its node (``snapshot --json``)."""
        from debugtool.snapshot import Snapshot

        node = self.node(container)
        argv = ["snapshot", local_id(container), "--json"]
        if not network:
            argv.append("--no-network")
        data = self._answer(node, argv)
        try:
            snapshot = Snapshot.from_json(data.decode("utf-8", "replace"))
        except (ValueError, TypeError, KeyError) as exc:
            raise DebugtoolError(f"{node.name}: its snapshot could not be read ({exc}).") from None
        snapshot.container = _on(node.name, snapshot.container)
        return snapshot

    def processes(self, container: Container, cpu_interval: float = 0.0) -> list[Process]:
        return self.snapshot(container, network=False).processes

    def mounts(self, container: Container) -> list[Mount]:
        return self.snapshot(container, network=False).mounts

    def network(self, container: Container) -> Network:
        return self.snapshot(container).network

    def runtime_inspect(self, container: Container) -> dict[str, Any]:
        import json

        data = self._answer(self.node(container), ["inspect", local_id(container), "--json"])
        try:
            found = json.loads(data)
        except ValueError:
            return {}
        if isinstance(found, list) and found and isinstance(found[0], dict):
            return dict(found[0])
        return dict(found) if isinstance(found, dict) else {}

    def process_detail(self, container: Container, host_pid: int) -> ProcessDetail:
        raise DebugtoolError(
            "a process's detail is not read over ssh yet: the list is.",
            f"Run 'debugtool -H {node_of(container)} top {local_id(container)} --pid N'.",
        )

    def host_load(self) -> HostLoad | None:
        return None  # each node has its own: the header shows none rather than this host's

    def cgroup(self, container: Container) -> CgroupStats | None:
        """Return the sample of the container's cgroup that its node's last listing held
        (``ps --stats``: no session of its own); the same sample until the next listing."""
        node = node_of(container)
        with self._lock:
            state = self._states.get(node)
            return state.stats.get(container.id) if state is not None else None

    def cgroup_history(self, container: Container) -> list[CgroupStats]:
        return []

    def audit(self, container: Container) -> list[Record]:
        """Return the sessions about the container in its node's audit log, oldest first
        (``audit --json --target ID`` on that node alone: the log stays on the node)."""
        node = self.node(container)
        data = self._answer(node, ["audit", "--json", "--target", local_id(container)])
        return node_sessions(node.name, data)

    def open_log(self, container: Container) -> Log:
        """Return the container's log as its node reads it (``logs ID --json``)."""
        return NodeLog(self, self.node(container), local_id(container))

    def via(self, container: Container) -> list[str]:
        """Return the options of a ``debugtool`` command line that runs on ``container``'s
        node (``exec``/``shell``/``trace`` from the TUI go the way ``-H NODE`` does)."""
        return ["-H", node_of(container), *self.fleet_argv]

    def close(self) -> None:
        """Stop polling, close the ssh masters of this session (a poll under way on one ends
        with it) and wait for the polls under way (each bounded by the timeout)."""
        self._closed = True
        if self._masters is not None:
            self._masters.close(self.nodes)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> FleetSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@record
class NodeRecord(Record):
    """An audit session as its node's ``audit --json`` told it.

    Whether a session without an end record still runs only its node can tell (its
    debugtool's PID is the node's): ``state`` is the node's word, not this host's guess.
    """

    node: str = ""
    node_state: str = ""

    def state(self) -> str:
        return self.node_state if self.node_state in ("ended", "running", "lost") else "lost"


def node_sessions(node: str, data: bytes) -> list[Record]:
    """Return the sessions of a node's ``audit --json`` answer (what is not a session is
    left out); raises ``DebugtoolError`` when the answer is not a JSON list."""
    import json

    from debugtool.record import fields

    try:
        items = json.loads(data or b"[]")
    except ValueError as exc:
        raise DebugtoolError(f"{node}: its audit log could not be read ({exc}).") from None
    if not isinstance(items, list):
        raise DebugtoolError(f"{node}: its audit log could not be read (not a list).")
    found: list[Record] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        said = item.pop("state", "")
        base = Record.from_dict(item)
        values = {name: getattr(base, name) for name in fields(Record)}
        found.append(NodeRecord(**values, node=node, node_state=str(said)))
    return found


def _on(node: str, container: Container) -> Container:
    return replace(container, id=qualified(node, container.id))


#: The numbers of a ``ps --stats`` sample (the others are a word, a flag and paths).
_SAMPLE_TEXT = {"version": str, "shared_with_host": bool}


def _is_sample(value: Any) -> bool:
    """Return whether ``value`` is a cgroup sample as ``ps --stats`` writes it: every field a
    number (or null) but the version and the flag. Anything else (another version's, or a
    broken node's) is no sample: the row shows no usage rather than the list failing."""
    if not isinstance(value, dict) or not isinstance(value.get("sampled_at"), (int, float)):
        return False
    for key, item in value.items():
        kind = _SAMPLE_TEXT.get(key)
        if kind is not None:
            if not isinstance(item, kind):
                return False
        elif key != "paths" and item is not None:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                return False
    return True


def _lacks_stats(outcome: transport.Outcome) -> bool:
    """Return whether a listing failed because the node's debugtool has no ``ps --stats``."""
    said = outcome.stderr.decode("utf-8", "replace")
    return outcome.status != transport.OK and "unrecognized arguments" in said and "--stats" in said


def _listing(
    node: str, outcome: transport.Outcome, stats: dict[str, CgroupStats] | None = None
) -> tuple[list[Container] | None, list[str], str]:
    """Return a node's containers (ids qualified) and warnings from its ``ps -a --json``, or
    None and why it gave none. ``stats`` gets each running container's cgroup sample, when
    the listing holds them (``--stats``)."""
    import json

    from debugtool.model import Container, from_dict
    from debugtool.output import printable
    from debugtool.snapshot import CgroupStats

    if outcome.status != transport.OK:
        return None, [], outcome.message or f"exited {outcome.exit_code}"
    try:
        data = json.loads(outcome.stdout or b"[]")
        if not isinstance(data, list):
            raise ValueError("not a list")
    except ValueError as exc:
        return None, [], f"sent a listing that could not be read ({exc})"
    found = []
    bad: list[str] = []
    for item in data:
        if not isinstance(item, dict):
            bad.append("not an object")
            continue
        sample = item.pop("stats", None)
        try:
            container = _on(node, from_dict(Container, item))
        except (ValueError, TypeError, KeyError) as exc:  # one record: the others are listed
            bad.append(str(exc))
            continue
        found.append(container)
        if stats is not None and _is_sample(sample):
            stats[container.id] = from_dict(CgroupStats, sample)
    warnings = [
        printable(line).removeprefix("debugtool: ")
        for line in outcome.stderr.decode("utf-8", "replace").splitlines()
        if line.strip()
    ]
    if bad:
        what = "record that is" if len(bad) == 1 else "records that are"
        warnings.append(
            f"skipped {len(bad):,} {what} not a container's in its listing ({printable(bad[0])})"
        )
    return found, warnings, ""


class NodeLog(Log):
    """A container's log read on its node (``logs ID --json``): its last lines, then, followed,
    each new line as the node sends it, over one ssh session held while it is read."""

    def __init__(self, source: FleetSource, node: Node, container_id: str) -> None:
        self.source = source
        self.node = node
        self.container_id = container_id
        self.where = f"node {node.name}, followed over ssh"

    def read(
        self,
        tail: int | None = None,
        since: int | None = None,
        follow: bool = False,
        alive: Callable[[], bool] | None = None,
    ) -> Generator[list[LogLine], None, None]:
        """Yield the last ``tail`` lines (every line when None), then with ``follow`` each new
        one as the node sends it, until ``alive`` says False (checked about every half
        second), the node ends the stream or the caller closes the generator; see
        ``Log.read``."""
        argv = ["logs", self.container_id, "--json"]
        if tail is not None:
            argv += ["--tail", str(tail)]
        if not follow:
            yield from _log_batches([self.source._answer(self.node, argv)])
            return
        yield from self._followed([*argv, "--follow"], alive)

    def _followed(
        self, argv: list[str], alive: Callable[[], bool] | None
    ) -> Generator[list[LogLine], None, None]:
        import queue

        arrived: queue.SimpleQueue[bytes | transport.Outcome] = queue.SimpleQueue()
        closed = threading.Event()

        def stop() -> bool:
            return closed.is_set() or (alive is not None and not alive())

        def on_output(_node: Node, fd: int, data: bytes) -> None:
            if fd == 1:
                arrived.put(data)

        def run() -> None:
            try:
                (outcome,) = transport.run_many(
                    [self.node],
                    argv,
                    self.source._connection(self.node),
                    "plain",
                    1,
                    None,  # a followed log has no end: only reaching the node is bounded
                    on_output,
                    stop=stop,
                )
            except Exception as exc:  # noqa: BLE001 - said to the reader, never lost
                outcome = transport.Outcome(self.node, transport.FAILED, None, b"", b"", str(exc))
            arrived.put(outcome)

        reader = threading.Thread(target=run, name=f"fleet-log-{self.node.name}", daemon=True)
        reader.start()
        rest = b""
        try:
            while True:
                item = arrived.get()
                if isinstance(item, transport.Outcome):
                    if item.status not in (transport.OK, transport.STOPPED):
                        said = item.message or f"exited {item.exit_code}"
                        raise DebugtoolError(f"{self.node.name}: {said.rstrip('.')}.")
                    break
                whole, _, rest = (rest + item).rpartition(b"\n")
                if whole:
                    yield from _log_batches([whole])
        finally:
            closed.set()  # the reader's run_many ends the session within half a second
            reader.join(5)


def _log_batches(chunks: list[bytes]) -> Generator[list[LogLine], None, None]:
    """Yield the ``LogLine``s of whole lines of ``logs --json`` (one batch, if any)."""
    import json

    from debugtool.logs.formats import LogLine

    lines = []
    for chunk in chunks:
        for raw in chunk.decode("utf-8", "surrogateescape").splitlines():
            try:
                item = json.loads(raw)
            except ValueError:
                continue
            if isinstance(item, dict):
                lines.append(
                    LogLine(
                        str(item.get("time") or ""),
                        str(item.get("stream") or ""),
                        str(item.get("line") or ""),
                    )
                )
    if lines:
        yield lines


class FleetArchiveSource:
    """A fleet bundle read offline: every node's bundle it holds, each through a
    ``BundleSource``, ids qualified with the node; the nodes without one (unreachable, timed
    out, refused...) listed with the index's message. Read-only, as every bundle is."""

    live = False
    read_only = True
    fleet = True

    def __init__(self, path: str) -> None:
        from debugtool.bundle.fleet import open_fleet
        from debugtool.source import BundleSource

        self.path = path
        self.archive = open_fleet(path)
        self.sources: dict[str, BundleSource] = {}
        self._states: list[NodeState] = []
        try:
            for node in self.archive.nodes:
                state = NodeState(node.name, [], [], status=node.status, message=node.message)
                state.polled = True
                if node.has_bundle:
                    try:
                        bundle = self.archive.open_node(node.name)
                    except DebugtoolError as exc:
                        state.message = exc.message  # its bundle does not verify: said, skipped
                        state.status = "damaged"
                    else:
                        source = BundleSource(f"{path} (node {node.name})", bundle)
                        self.sources[node.name] = source
                        state.containers = [_on(node.name, c) for c in bundle.containers]
                        state.answered_at = _epoch(bundle.captured_at)
                if node.name not in self.sources:
                    state.failing_since = _epoch(self.archive.manifest.get("created_at"))
                self._states.append(state)
        except BaseException:
            self.close()
            raise

    def node_states(self) -> list[NodeState]:
        return [replace(s) for s in self._states]

    def _source(self, container: Container) -> Any:
        source = self.sources.get(node_of(container))
        if source is None:
            raise ContainerNotFound(f"the fleet bundle holds no bundle of {container.name}'s node.")
        return source

    def banner(self, now: float) -> str:
        from debugtool.output import utc_text

        held = len(self.sources)
        total = len(self.archive.nodes)
        created = utc_text(_epoch(self.archive.manifest.get("created_at")))
        state = "" if held == total else f" {total - held} without a bundle (listed above)."
        return (
            f"Fleet bundle {self.path}, written {created}: {total} nodes, {held} with a "
            f"bundle. Read-only: no exec, trace or bundle.{state}"
        )

    def containers(self) -> Discovery:
        from debugtool.runtimes import Discovery

        found: list[Container] = []
        for state in self._states:
            found += state.containers
        return Discovery(containers=found)

    def find(self, text: str, names_container: bool = True) -> Container:
        """Resolve ``NODE/TARGET`` in that node's bundle (``TARGET`` alone when one node has a
        bundle), with the rules of a bundle's ``find``."""
        from debugtool.source import BundleSource

        node, inner = self.archive.split_target(text.strip())
        source = self.sources.get(node.name)
        if source is None:
            raise ContainerNotFound(
                f"{self.path} holds no bundle of node {node.name} ({node.status}"
                + (f": {node.message})." if node.message else ").")
            )
        return _on(node.name, BundleSource.find_in(source.bundle, inner))

    def snapshot(self, container: Container, network: bool = True) -> Snapshot:
        snapshot = self._source(container).snapshot(_local(container), network)
        snapshot = replace(snapshot)  # the node's source keeps its own; ours is qualified
        snapshot.container = _on(node_of(container), snapshot.container)
        return snapshot

    def processes(self, container: Container, cpu_interval: float = 0.0) -> list[Process]:
        return list(self._source(container).processes(_local(container)))

    def mounts(self, container: Container) -> list[Mount]:
        return list(self._source(container).mounts(_local(container)))

    def network(self, container: Container) -> Network:
        return self._source(container).network(_local(container))  # type: ignore[no-any-return]

    def runtime_inspect(self, container: Container) -> dict[str, Any]:
        return dict(self._source(container).runtime_inspect(_local(container)))

    def process_detail(self, container: Container, host_pid: int) -> ProcessDetail:
        return self._source(container).process_detail(_local(container), host_pid)  # type: ignore[no-any-return]

    def host_load(self) -> HostLoad | None:
        return None  # each node recorded its own: the header shows none rather than one

    def cgroup(self, container: Container) -> CgroupStats | None:
        return self._source(container).cgroup(_local(container))  # type: ignore[no-any-return]

    def cgroup_history(self, container: Container) -> list[CgroupStats]:
        return list(self._source(container).cgroup_history(_local(container)))

    def audit(self, container: Container) -> list[Record]:
        return list(self._source(container).audit(_local(container)))

    def open_log(self, container: Container) -> Log:
        """Return the container's log as its node's bundle captured it."""
        from debugtool.logs.sources import open_log

        return open_log(self._source(container), _local(container))

    def close(self) -> None:
        for source in self.sources.values():
            source.close()
        self.sources.clear()
        self.archive.close()

    def __enter__(self) -> FleetArchiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _local(container: Container) -> Container:
    return replace(container, id=local_id(container))


def _epoch(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None
