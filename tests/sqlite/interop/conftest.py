"""Interop with honker's own engine: fixtures.

honker's published native Node binding (npm package
``@russellthehippo/honker-node-linux-x64-gnu``, pinned below) is honker's Rust
engine compiled for Node. The tests in this folder run it in a separate
``node`` process (``honker_driver.js``, a JSON-lines server) against the same
.db file as this package, in both directions.

- ``honker_binding`` (session): the path of ``honker.linux-x64-gnu.node``,
  fetched once with ``npm pack`` into ``<repo>/.cache/honker-node/<version>/``
  and checked against pinned hashes; reused when already there.
  No node / npm, or no registry: the tests FAIL saying so (they are part of
  the suite's contract). A platform the package is not built for (anything
  but Linux x86-64 glibc): they are skipped with that reason.
- ``node_driver`` (session): one long-lived driver child.
- ``node`` (function): that driver; every database it opened is closed when
  the test ends.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from interop_support import NodeHonker, NodeSide, PySide

REPO = Path(__file__).resolve().parents[3]

HONKER_NODE_PACKAGE = "@russellthehippo/honker-node-linux-x64-gnu"
HONKER_NODE_VERSION = "0.4.5"
# `npm pack --json` integrity of the tarball and sha256 of the binary in it.
HONKER_NODE_INTEGRITY = "sha512-EcIl3qVcK6U9IQx5BK4NuyrxNgKRr+U+qjxFx4KJv3C3PzqIRL59H7IRNdSf78+lvXAXS7UBrRgFCKnLd0b3wg=="  # noqa: E501
HONKER_NODE_BINARY = "honker.linux-x64-gnu.node"
HONKER_NODE_BINARY_SHA256 = "800a0b36b13e2d2dc9c0472a01356020c4796e430cb8faa0a2b285297906c057"
CACHE_DIR = REPO / ".cache" / "honker-node"
MIN_NODE_MAJOR = 20


def _platform_supported() -> str | None:
    """None on Linux x86-64 glibc, else why the package does not exist here."""
    machine = platform.machine().lower()
    if not sys.platform.startswith("linux") or machine not in ("x86_64", "amd64"):
        here = f"{sys.platform}/{machine}"
        return f"{HONKER_NODE_PACKAGE} is built for Linux x86-64 only (this is {here})"
    libc = platform.libc_ver()[0]
    if libc != "glibc":
        return f"{HONKER_NODE_PACKAGE} needs glibc (this libc: {libc or 'unknown'})"
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"interop tests need `{name}` on PATH: they fetch honker's own engine "
            f"({HONKER_NODE_PACKAGE}@{HONKER_NODE_VERSION}) from the npm registry and run it "
            "under Node.js >= 20. Install Node.js and npm (e.g. `apt-get install nodejs npm`).",
            pytrace=False,
        )
    return found


def _fetch(dest: Path) -> None:
    """``npm pack`` the pinned package and unpack it into ``dest`` (atomically)."""
    npm = _tool("npm")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as tmp:
        spec = f"{HONKER_NODE_PACKAGE}@{HONKER_NODE_VERSION}"
        try:
            proc = subprocess.run(
                [
                    npm,
                    "pack",
                    spec,
                    "--json",
                    "--pack-destination",
                    tmp,
                    "--fetch-retries=1",
                    "--fetch-timeout=60000",
                ],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"`npm pack {spec}` did not finish in 240 s: the npm registry cannot be "
                "reached from this machine, and the interop tests need it.",
                pytrace=False,
            )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            codes = [ln for ln in lines if ln.startswith(("npm error code", "npm error errno"))]
            tail = "\n".join(dict.fromkeys([*codes, *lines[:8]]))
            pytest.fail(
                f"could not fetch {spec} with `npm pack` (exit {proc.returncode}): the npm "
                f"registry is probably unreachable, and the interop tests need it.\n{tail}",
                pytrace=False,
            )
        data = tarballs[0].read_bytes()
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        if integrity != HONKER_NODE_INTEGRITY:
            pytest.fail(
                f"{spec} from the registry has integrity {integrity}, "
                f"expected the pinned {HONKER_NODE_INTEGRITY}",
                pytrace=False,
            )
        unpacked = Path(tmp) / "out" / "package"
        unpacked.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for name in (HONKER_NODE_BINARY, "package.json", "README.md"):
                member = tar.extractfile(f"package/{name}")
                assert member is not None
                (unpacked / name).write_bytes(member.read())
        try:
            os.replace(Path(tmp) / "out", dest)
        except OSError:
            if not (dest / "package" / HONKER_NODE_BINARY).is_file():
                raise  # not a concurrent fetch that got there first


@pytest.fixture(scope="session")
def honker_binding() -> Path:
    """Path of honker's native Node binding, fetched and verified once."""
    why = _platform_supported()
    if why is not None:
        pytest.skip(why)
    dest = CACHE_DIR / HONKER_NODE_VERSION
    binary = dest / "package" / HONKER_NODE_BINARY
    if not binary.is_file() or _sha256(binary) != HONKER_NODE_BINARY_SHA256:
        if dest.exists():
            shutil.rmtree(dest)
        _fetch(dest)
    if _sha256(binary) != HONKER_NODE_BINARY_SHA256:
        pytest.fail(f"{binary} does not have the pinned sha256", pytrace=False)
    return binary


def _node() -> str:
    """The ``node`` executable, checked to be recent enough for the binding."""
    node = _tool("node")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE_MAJOR:
        pytest.fail(
            f"interop tests need Node.js >= {MIN_NODE_MAJOR} ({HONKER_NODE_PACKAGE} "
            f"requires it); `node --version` says {version!r}",
            pytrace=False,
        )
    return node


@pytest.fixture(scope="session")
def node_driver(honker_binding: Path) -> Iterator[NodeHonker]:
    driver = NodeHonker(_node(), honker_binding)
    version = driver.request("version")
    assert version["binding"] == HONKER_NODE_VERSION, version
    yield driver
    driver.shutdown()


@pytest.fixture
def node(node_driver: NodeHonker) -> Iterator[NodeHonker]:
    """The driver; databases it opened during the test are closed afterwards."""
    yield node_driver
    node_driver.request("closeAll")


@pytest.fixture
def spawn_node(honker_binding: Path) -> Iterator[Any]:
    """``spawn_node(env)``: an extra driver child (e.g. with another ``TZ``)."""
    started: list[NodeHonker] = []

    def _spawn(env: dict[str, str] | None = None) -> NodeHonker:
        d = NodeHonker(_node(), honker_binding, env)
        started.append(d)
        return d

    yield _spawn
    for d in started:
        d.shutdown()


@pytest.fixture
def shared_db(tmp_path: Path) -> str:
    """Path of the .db file both engines use in a test."""
    return str(tmp_path / "shared.db")


@pytest.fixture(params=["node->python", "python->node"])
def pair(request: Any, node: NodeHonker, open_db: Any, shared_db: str) -> tuple[Any, Any]:
    """``(first, second)`` sides on one file: honker then us, or us then honker.

    Tests do the "producer" half with ``first`` and the "consumer" half with
    ``second``, so each runs in both directions.
    """
    if request.param == "node->python":  # the first side also creates the file
        n = NodeSide(node, shared_db)
        return n, PySide(open_db(shared_db))
    py = PySide(open_db(shared_db))
    return py, NodeSide(node, shared_db)
