"""Workers on several "hosts" share one PostgreSQL server over TCP.

Two network namespaces stand for two machines: each has its own loopback and
one end of a veth pair whose other end is enslaved to a bridge in the root
namespace. The addresses exist only there: the bridge has ``10.77.N.1/24``,
the namespaces ``.2`` and ``.3`` (N comes from the pid, so two test runs on
one machine do not collide). A throwaway server of its own listens on
loopback and on the bridge address and trusts that subnet
(``tests/pg_server.py``). Workers start with ``ip netns exec NAME python
...``, so the only way they reach the server is over the veth link.

The drill of tests/chaos_drill.py runs on them: workers in both
namespaces drain the queue while random ones are SIGKILLed mid-job and
replaced; every job is done, none twice, none lost.

Making namespaces needs root and iproute2's ``ip`` (``make test`` installs it;
CI runs as root). Only where they cannot be made is the test skipped, saying
why; everything made is removed at teardown, also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import chaos_drill
import psycopg
import pytest
from helpers import Child, spawn_child

import honker

HOSTS = 2
WORKERS_PER_HOST = 2
JOBS = 1200


@dataclass
class Network:
    namespaces: list[str]
    server_ip: str
    subnet: str


def _ip(*argv: str) -> None:
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(argv)}: {done.stderr.strip()}")


def _cannot_make_namespaces() -> str | None:
    if shutil.which("ip") is None:
        return "no `ip` command (install iproute2: apt-get install -y iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); CI runs this as root"
    return None


@contextlib.contextmanager
def _network() -> Iterator[Network]:
    """A bridge in the root namespace and HOSTS namespaces wired to it;
    removed on exit whatever happened (a half-made one too)."""
    tag = os.getpid()
    net = 10 + tag % 240
    subnet, server_ip = f"10.77.{net}.0/24", f"10.77.{net}.1"
    bridge = f"hk{tag}br"
    names = [f"honker-{tag}-{i}" for i in range(HOSTS)]
    made_bridge = False
    made: list[str] = []
    try:
        try:
            _ip("link", "add", bridge, "type", "bridge")
            made_bridge = True
            _ip("addr", "add", f"{server_ip}/24", "dev", bridge)
            _ip("link", "set", bridge, "up")
            for i, ns in enumerate(names):
                _ip("netns", "add", ns)
                made.append(ns)
                host_end, ns_end = f"hk{tag}h{i}", f"hk{tag}n{i}"
                _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
                _ip("link", "set", ns_end, "netns", ns)
                _ip("link", "set", host_end, "master", bridge)
                _ip("link", "set", host_end, "up")
                _ip("-n", ns, "addr", "add", f"10.77.{net}.{i + 2}/24", "dev", ns_end)
                _ip("-n", ns, "link", "set", ns_end, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except OSError as exc:
            pytest.skip(f"cannot make network namespaces here: {exc}")
        yield Network(names, server_ip, subnet)
    finally:
        for ns in made:  # deleting a namespace deletes its veth end, and so the pair
            with contextlib.suppress(OSError):
                _ip("netns", "delete", ns)
        if made_bridge:
            with contextlib.suppress(OSError):
                _ip("link", "delete", bridge)


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    why = _cannot_make_namespaces()
    if why:
        pytest.skip(f"several hosts need network namespaces: {why}")
    with _network() as net:
        yield net


@pytest.fixture(scope="module")
def server(network: Network) -> Iterator[Any]:
    """A server of its own: it must start after the bridge address exists."""
    from pg_server import PgServer

    srv = PgServer(listen=[network.server_ip], trust=[network.subnet])
    try:
        srv.start()
        with psycopg.connect(srv.url(), autocommit=True) as conn:
            conn.execute("CREATE SCHEMA mh")
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def db(server: Any) -> Iterator[honker.Database]:
    d = honker.open(server.url(schema="mh", options="-csearch_path%3Dmh"))
    yield d
    d.close()


def test_namespaces_reach_the_server_only_over_the_veth_link(network: Network, server: Any) -> None:
    probe = "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()"
    for ns in network.namespaces:
        over_veth = server.url(host=network.server_ip)
        child = spawn_child(probe, over_veth, ready=None, prefix=["ip", "netns", "exec", ns])
        child.wait(timeout=20)
        # The server's loopback is not the namespace's: the same server is out of reach there.
        child = spawn_child(probe, server.url(), ready=None, prefix=["ip", "netns", "exec", ns])
        with pytest.raises(AssertionError, match="exited with 1"):
            child.wait(timeout=20)


@pytest.mark.timeout(240)
def test_workers_on_two_hosts_sigkilled_mid_job_lose_nothing(
    network: Network, server: Any, db: honker.Database
) -> None:
    url = server.url(host=network.server_ip, schema="mh", options="-csearch_path%3Dmh")
    ids = chaos_drill.prepare(db, JOBS)
    seen: set[str] = set()

    def start(slot: int) -> Child:
        inside = ["ip", "netns", "exec", network.namespaces[slot % HOSTS]]
        return spawn_child(chaos_drill.WORKER, url, slot, ready=None, prefix=inside)

    peers = (
        "SELECT DISTINCT host(client_addr) AS addr FROM pg_stat_activity"
        " WHERE client_addr IS NOT NULL AND host(client_addr) <> '127.0.0.1'"
    )

    def watch() -> None:
        seen.update(r["addr"] for r in db.query(peers))

    drill = chaos_drill.run(
        db,
        ids,
        start,
        workers=HOSTS * WORKERS_PER_HOST,
        kill_every_s=0.5,
        deadline_s=180.0,
        seed=16,
        during=watch,
    )
    print(f"\n{drill}; workers connected from {sorted(seen)}")
    assert len(seen) == HOSTS, f"workers connected from both namespaces: {seen}"
    subnet_prefix = network.server_ip.rsplit(".", 1)[0] + "."
    assert all(addr.startswith(subnet_prefix) for addr in seen), seen
    assert drill.kills >= 5, "the controller must actually have killed workers"
