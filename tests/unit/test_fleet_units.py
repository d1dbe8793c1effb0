"""The fleet's pieces that need no node: inventories, -H, the command line split, the merge."""

from __future__ import annotations

import io
import json

import pytest

from debugtool.errors import UsageError
from debugtool.fleet import command, merge, nodes, transport, zipapp
from debugtool.fleet.nodes import Node

INI = """\
# a site inventory
bastion ansible_host=198.51.100.7

[web]
web[01:03] ansible_user=deploy
db1 ansible_host=203.0.113.9 ansible_port=2222

[db]
db1

[prod:children]
web
db

[prod:vars]
ansible_user=ops
ansible_python_interpreter=/usr/bin/python3.11

[all:vars]
ansible_port=22
"""


def test_ini_groups_children_ranges_and_variables() -> None:
    inv = nodes.parse_ini(INI, "site.ini")
    assert inv.members("web") == ["web01", "web02", "web03", "db1"]
    assert inv.members("prod") == ["web01", "web02", "web03", "db1"]
    assert inv.members("ungrouped") == ["bastion"]
    assert inv.members("all")[0] == "bastion"
    web = inv.node("web02")
    # the host's own ansible_user beats its group's; all's port applies
    assert (web.host, web.user, web.port) == ("web02", "deploy", 22)
    assert web.python == "/usr/bin/python3.11"
    db = inv.node("db1")
    assert (db.host, db.user, db.port) == ("203.0.113.9", "ops", 2222)
    assert inv.node("bastion") == Node("bastion", "198.51.100.7", None, 22, "python3")


def test_json_inventory_as_ansible_inventory_lists_it() -> None:
    listed = {
        "_meta": {"hostvars": {"a": {"ansible_host": "10.0.0.1", "ansible_port": 2200}}},
        "all": {"children": ["ungrouped", "edge"]},
        "edge": {"hosts": ["a", "b"], "vars": {"ansible_user": "ops"}},
    }
    inv = nodes.parse_json(json.dumps(listed))
    assert inv.members("edge") == ["a", "b"]
    assert inv.node("a") == Node("a", "10.0.0.1", "ops", 2200)
    assert inv.node("b").user == "ops"


def test_select_groups_hosts_and_plain_ssh_names() -> None:
    inv = nodes.parse_ini(INI)
    chosen = nodes.select(["@db,bastion", "root@10.1.1.1:2022", "web01", "db1"], inv)
    assert [n.name for n in chosen] == ["db1", "bastion", "root@10.1.1.1:2022", "web01"]
    direct = chosen[2]
    assert (direct.host, direct.user, direct.port) == ("10.1.1.1", "root", 2022)
    assert nodes.select(["[2001:db8::1]:2200"], None)[0].port == 2200


@pytest.mark.parametrize(
    ("spec", "inventory", "says"),
    [
        (["@web"], None, "no --inventory"),
        (["@nosuch"], INI, "no group 'nosuch'"),
        ([","], None, "names no node"),
        (["-oProxyCommand=x"], None, "not a node name"),
        (["host:99999"], None, "port number"),
    ],
)
def test_select_refuses_with_one_sentence(spec, inventory, says) -> None:
    inv = nodes.parse_ini(inventory) if inventory else None
    with pytest.raises(UsageError, match=says):
        nodes.select(spec, inv)


def test_bad_inventory_lines_name_the_line(tmp_path) -> None:
    with pytest.raises(UsageError, match=r"bad\.ini:2"):
        nodes.parse_ini("[web]\nweb1 novalue\n", "bad.ini")
    with pytest.raises(UsageError, match=r"web\[3:1\]"):
        nodes.parse_ini("web[3:1]\n")
    yaml = tmp_path / "inv.yml"
    yaml.write_text("all:\n  hosts:\n    a:\n")
    with pytest.raises(UsageError) as raised:
        nodes.load_inventory(str(yaml))
    assert "ansible-inventory -i " in raised.value.for_people()


def test_split_takes_fleet_options_anywhere_before_the_target() -> None:
    found, rest = command.split(["ps", "-H", "n1,n2", "-a", "--forks=3", "--ssh-config", "c"])
    assert found == {"hosts": ["n1,n2"], "forks": "3", "ssh_config": "c"}
    assert rest == ["ps", "-a"]
    found, rest = command.split(["--timeout", "5", "-Hn1", "exec", "-u", "0", "web", "ps", "-H"])
    assert found == {"hosts": ["n1"]}
    assert rest == ["--timeout", "5", "exec", "-u", "0", "web", "ps", "-H"]
    found, rest = command.split(["exec", "web", "--", "ps", "-H"])
    assert found == {"hosts": []} and rest == ["exec", "web", "--", "ps", "-H"]


def test_ssh_argv_keeps_host_key_checking_and_quotes_the_command() -> None:
    node = Node("n1", "n1.example", "ops", 2222)
    conn = transport.Connection(ssh_config="/etc/dt/ssh_config")
    app = zipapp.Zipapp("ab" * 32, 1234)
    remote = transport.remote_command(node, ["ps", "--json"], "tables", conn, app)
    argv = transport.ssh_argv(node, remote, conn, connect_timeout=5)
    assert argv[:3] == ["ssh", "-F", "/etc/dt/ssh_config"]
    assert "BatchMode=yes" in argv and "ConnectTimeout=5" in argv
    assert not any("StrictHostKeyChecking" in word for word in argv)
    assert argv[-3:-1] == ["--", "n1.example"] and ["-l", "ops"] == argv[argv.index("-l") :][:2]
    import shlex

    words = shlex.split(argv[-1])
    assert words[:3] == ["python3", "-I", "-c"] and words[3] == zipapp.BOOTSTRAP
    assert words[4:] == ["ab" * 32, "1234", "tables", "ps", "--json"]


def _outcome(name: str, stdout: bytes) -> transport.Outcome:
    return transport.Outcome(Node(name, name), transport.OK, 0, stdout, b"")


def _table(headers, rows) -> bytes:
    body = {"headers": headers, "rows": rows, "justify": ["left", "right"]}
    return (merge.TABLE_MARK + json.dumps(body) + "\n").encode()


def test_tables_of_every_node_become_one_with_a_node_column() -> None:
    outs = [
        _outcome("n1", _table(["NAME", "PID"], [["web", "10"]])),
        _outcome("n2", _table(["NAME", "PID"], [["web", "2200"], ["db\x1b[31m", "7"]])),
        _outcome("n3", b"no running containers (ps -a lists stopped ones)\n"),
    ]
    stream = io.StringIO()
    merge.write_text(outs, stream)
    assert stream.getvalue().splitlines() == [
        "NODE   NAME          PID",
        "n1     web            10",
        "n2     web          2200",
        "n2     db\\x1b[31m      7",
        "n3: no running containers (ps -a lists stopped ones)",
    ]


def test_different_outputs_are_written_node_by_node() -> None:
    outs = [_outcome("n1", b"Name: web\nStatus: running\n"), _outcome("n2", b"Name: db\n")]
    stream = io.StringIO()
    merge.write_text(outs, stream)
    assert stream.getvalue() == "n1: Name: web\nn1: Status: running\nn2: Name: db\n"


def test_json_gains_node_in_every_object() -> None:
    outs = [_outcome("n1", b'[{"id": "a"}, {"id": "b"}]'), _outcome("n2", b'{"id": "c"}')]
    stream = io.StringIO()
    merge.write_json(outs, stream)
    assert json.loads(stream.getvalue()) == [
        {"node": "n1", "id": "a"},
        {"node": "n1", "id": "b"},
        {"node": "n2", "id": "c"},
    ]


def test_line_relay_marks_whole_lines_only() -> None:
    stream = io.StringIO()
    relay = merge.LineRelay(4, False, stream)
    relay("n1", b"first li")
    relay("node", b"other\n")
    relay("n1", b"ne\nlast")
    relay("n1", b"", final=True)
    assert stream.getvalue().splitlines() == ["node  other", "n1    first line", "n1    last"]


def test_zipapp_is_the_same_bytes_for_the_same_files() -> None:
    import zipfile

    first, second = zipapp.build(), zipapp.build()
    assert first == second
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert "debugtool/cli.py" in names and "debugtool/fleet/transport.py" in names
    assert "__main__.py" in names and any(n.startswith("ptrace/") for n in names)
    assert "debugtool/cli.pyc" in names  # bytecode beside each source, for a like Python
    assert not any(n.startswith(("debugtool_tui", "textual", "prompt_toolkit")) for n in names)
    assert not any(n.startswith("psutil") or "__pycache__" in n for n in names)


def test_the_zipapp_written_to_a_file_runs_with_a_bare_python(tmp_path) -> None:
    import hashlib
    import subprocess
    import sys

    out = tmp_path / "debugtool.pyz"
    made = subprocess.run(
        [sys.executable, "-m", "debugtool.fleet.zipapp", str(out)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == hashlib.sha256(out.read_bytes()).hexdigest()
    ran = subprocess.run(
        [sys.executable, "-I", "-S", str(out), "--version"], capture_output=True, text=True
    )
    assert (ran.returncode, ran.stdout) == (0, "debugtool 0.1.0\n")


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["ps", "-H", "n1", "--forks", "0"], "--forks must be a whole number from 1"),
        (["ps", "-H", "n1", "--node-timeout", "nan"], "--node-timeout must be"),
        (["ps", "--forks", "3"], "go with -H NODE[,NODE...]"),
        (["-H", "n1"], "-H needs a command"),
        (["bundle", "-H", "n1", "verify", "f.tar"], "bundle verify reads a bundle on this host"),
        (["bundle", "-H", "n1", "--all", "web"], "give containers or --all, not both"),
        (["bundle", "-H", "n1", "--pseudonymise", "hostz"], "hostz"),
        (["bundle", "-H", "n1", "--node-timeout", "12", "web"], "leaves a node no time"),
        (["tui", "-H", "n1", "--bundle", "f.tar"], "it does not go with -H"),
        (["tui", "-H", "n1"], "needs a terminal"),  # no terminal here: no node is asked
        (["completion", "-H", "n1", "bash"], "completion does not run across nodes"),
        (["ps", "-H", "n1", "--ssh-config", "/nonexistent/cfg"], "is not a file"),
        (["ps", "-H", "@web"], "no --inventory"),
        (["top", "-H", "n1", "--bundle", "b.tar.gz", "web"], "--bundle reads a bundle"),
        (["ps", "-H", "n1", "--no-such-option"], "unrecognized arguments"),
        (["audit", "-H", "n1,n2", "replay", "5e55c0de"], "plays one node's recording"),
    ],
)
def test_fleet_command_lines_refused_before_any_connection(words, says, capsys) -> None:
    from debugtool import cli

    assert cli.main(words) == 125
    err = capsys.readouterr().err
    assert says in err and len(err.splitlines()) == 1, err


def test_a_nodes_audit_sessions_keep_the_nodes_word_on_whether_they_run() -> None:
    from debugtool.fleet.source import node_sessions

    said = [
        {"action": "shell", "phase": "start", "session": "a1", "host": "n1",
         "debugtool_pid": 1, "reason": "INC-1", "state": "running"},
        {"action": "exec", "phase": "end", "session": "b2", "exit_code": 3, "state": "ended"},
        {"action": "exec", "phase": "start", "session": "c3", "state": "lost"},
        "not a session",
    ]  # fmt: skip
    found = node_sessions("n1", json.dumps(said).encode())
    assert [(r.session, r.state(), r.node) for r in found] == [
        ("a1", "running", "n1"),  # this host could not tell: its PID 1 is not the node's
        ("b2", "ended", "n1"),
        ("c3", "lost", "n1"),
    ]
    assert found[0].reason == "INC-1" and found[1].exit_code == 3
    assert "state" not in found[0].details  # the node's word is not an unknown field


@pytest.mark.parametrize("answer", [b"{}", b"not json", b'"a string"'])
def test_a_nodes_audit_answer_that_is_no_list_is_said(answer: bytes) -> None:
    from debugtool.errors import DebugtoolError
    from debugtool.fleet.source import node_sessions

    with pytest.raises(DebugtoolError, match="n2: its audit log could not be read"):
        node_sessions("n2", answer)


@pytest.mark.parametrize(
    ("sample", "kept"),
    [
        ({"version": "v2", "sampled_at": 1.5, "cpu_usage_ns": 10, "memory_usage": None}, True),
        ({"version": "v2", "sampled_at": 1.5, "cpu_usage_ns": "10"}, False),  # a word
        ({"version": "v2", "sampled_at": 1.5, "memory_limit": True}, False),  # a flag
        ({"version": "v2", "cpu_usage_ns": 10}, False),  # no time: no rate can be made
        ({"version": 2, "sampled_at": 1.5}, False),
        ([1, 2], False),
    ],
)
def test_a_nodes_cgroup_sample_is_kept_only_when_it_is_one(sample, kept) -> None:
    from debugtool.fleet.source import _listing

    item = {"id": "c" * 64, "name": "web", "runtime": "docker", "status": "running", "pid": 42}
    outcome = transport.Outcome(
        Node("n1", "n1"), transport.OK, 0, json.dumps([{**item, "stats": sample}]).encode(), b""
    )
    stats: dict = {}
    listing, _warnings, error = _listing("n1", outcome, stats)
    assert error == "" and [c.id for c in listing] == [f"n1/{'c' * 64}"]  # listed either way
    assert (f"n1/{'c' * 64}" in stats) is kept


def test_a_record_of_a_nodes_listing_that_is_no_container_is_skipped_and_said() -> None:
    from debugtool.fleet.source import _listing

    good = {"id": "c" * 64, "name": "web", "runtime": "docker", "status": "running", "pid": 42}
    broken = {**good, "id": "d" * 64, "pid": "42; reboot"}
    outcome = transport.Outcome(
        Node("n1", "n1"), transport.OK, 0, json.dumps([good, broken, "x"]).encode(), b""
    )
    listing, warnings, error = _listing("n1", outcome)
    assert error == "" and [c.id for c in listing] == [f"n1/{'c' * 64}"]
    assert warnings == [
        "skipped 2 records that are not a container's in its listing "
        "(pid: text where a whole number belongs)"
    ]
    refused = transport.Outcome(Node("n1", "n1"), transport.OK, 0, b'{"not": "a list"}', b"")
    assert _listing("n1", refused)[2] == "sent a listing that could not be read (not a list)"
