"""One way in: every target form names the same container live and in a bundle, and every read
command takes --bundle (top, mounts, net, inspect, snapshot)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest

# A pod of this module's own: another test's pod of the same name would make pod/NAME ambiguous.
POD = {"pod": f"checkout-{uuid.uuid4().hex[:6]}", "namespace": "shop", "container": "cart"}
POD_LABELS = {
    "io.kubernetes.pod.name": POD["pod"],
    "io.kubernetes.pod.namespace": POD["namespace"],
    "io.kubernetes.container.name": POD["container"],
}


@pytest.fixture(scope="module")
def k8s_namespace() -> Iterator[str]:
    """A containerd namespace of this module's own, with the busybox image; removed after."""
    ns = f"dt-src-{uuid.uuid4().hex[:8]}"
    harness.run("ctr", "-n", ns, "images", "import", str(harness.oci_archive()))
    yield ns
    harness.remove_containerd_namespace(ns)


@pytest.fixture(scope="module")
def fleet(k8s_namespace: str, module_containers: harness.Containers) -> dict[str, harness.Started]:
    # k8s_namespace first: fixtures end in reverse order, so the containers are removed before
    # their namespace is.
    labels = [arg for k, v in POD_LABELS.items() for arg in ("--label", f"{k}={v}")]
    return {
        "docker": module_containers.docker(),
        "pod": module_containers.containerd(*labels, namespace=k8s_namespace),
    }


@pytest.fixture(scope="module")
def bundle(fleet: dict[str, harness.Started], tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("source") / "b.tar.gz")
    proc = harness.run_cli("bundle", *(s.id for s in fleet.values()), "-o", path, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return path


def forms(fleet: dict[str, harness.Started], k8s_namespace: str) -> list[tuple[str, str]]:
    """(the target text, the id of the container it must name)."""
    docker, pod = fleet["docker"], fleet["pod"]
    return [
        (docker.id, docker.id),
        (docker.id[:12], docker.id),
        (docker.name, docker.id),
        (f"docker:{docker.name}", docker.id),
        (f"pid:{docker.pid}", docker.id),
        (f"containerd:{k8s_namespace}/{pod.name}", pod.id),
        (f"pod/{POD['pod']}/{POD['container']}", pod.id),
        (f"pod/{POD['namespace']}/{POD['pod']}/{POD['container']}", pod.id),
    ]


def test_every_target_form_names_the_same_container_live_and_in_a_bundle(
    fleet: dict[str, harness.Started], k8s_namespace: str, bundle: str
) -> None:
    for text, wanted in forms(fleet, k8s_namespace):
        for where in ([], ["--bundle", bundle]):
            shown = harness.run_cli("inspect", *where, text, "--json")
            assert shown.returncode == 0, (text, where, shown.stderr)
            assert json.loads(shown.stdout)["container"]["id"] == wanted, (text, where)


@pytest.mark.parametrize("command", ["top", "mounts", "net", "inspect", "snapshot"])
def test_every_read_command_takes_a_bundle(
    fleet: dict[str, harness.Started], bundle: str, command: str
) -> None:
    docker = fleet["docker"]
    live = harness.run_cli(command, docker.name, "--json")
    offline = harness.run_cli(command, "--bundle", bundle, docker.name, "--json")
    assert live.returncode == 0 and offline.returncode == 0, (live.stderr, offline.stderr)
    live_data, offline_data = json.loads(live.stdout), json.loads(offline.stdout)
    if command == "top":  # the same processes, by their PIDs in the container
        assert {p["pid"] for p in live_data} == {p["pid"] for p in offline_data}
    elif command == "mounts":
        assert {m["mountpoint"] for m in live_data} == {m["mountpoint"] for m in offline_data}
    elif command == "net":
        assert {i["name"] for i in live_data["interfaces"]} == {
            i["name"] for i in offline_data["interfaces"]
        }
    elif command == "inspect":
        assert live_data["container"]["id"] == offline_data["container"]["id"] == docker.id
        assert offline_data["security"]["cap_effective"] == live_data["security"]["cap_effective"]
    else:
        assert offline_data["container"]["id"] == docker.id


def test_a_name_a_bundle_does_not_hold_lists_what_it_holds(
    fleet: dict[str, harness.Started], bundle: str
) -> None:
    shown = harness.run_cli("top", "--bundle", bundle, "no-such-container")
    assert shown.returncode == 125
    assert f"bundle {bundle} holds no container matching 'no-such-container'" in shown.stderr
    assert fleet["docker"].name in shown.stderr
    assert Path(bundle).exists()
