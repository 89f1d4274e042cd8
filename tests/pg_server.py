"""A throwaway PostgreSQL server for the tests (``initdb`` + ``pg_ctl`` into a temp folder).

Used by the ``pg_server`` session fixture (``tests/conftest.py``): started on
first use, on a free loopback port, with its socket in the same temp folder,
and stopped at the end of the session. As root (CI) the cluster runs as the
``postgres`` system user (PostgreSQL refuses to run as root).

Where the server cannot start (no binaries, no ``postgres`` user) the error
says what is missing: the PostgreSQL tests fail, they are not skipped.
``make test`` installs the server on a fresh Debian machine.

Also runnable by hand: ``python tests/pg_server.py`` starts one and prints its
URL until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

BIN_GLOB = "/usr/lib/postgresql/*/bin"
DBNAME = "honker_test"
# Settings for a disposable cluster: durability is not what these tests are about.
SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
    "shared_buffers=32MB",
)


class ServerUnavailable(RuntimeError):
    """The test PostgreSQL server could not start; the message says what is missing."""


def find_bin() -> Path:
    """The newest PostgreSQL server bin folder (``initdb``, ``pg_ctl``)."""
    env = os.environ.get("HONKER_PG_BIN")
    candidates = [env] if env else sorted(glob.glob(BIN_GLOB), key=_version, reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists():
            return Path(folder)
    raise ServerUnavailable(
        f"no PostgreSQL server binaries (initdb) under {BIN_GLOB} (or $HONKER_PG_BIN): "
        "install them with `apt-get install -y postgresql` (make test does this as root)"
    )


def _version(folder: str) -> int:
    try:
        return int(Path(folder).parent.name.split(".")[0])
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One disposable cluster: ``start()``, ``url(...)``, ``stop()``.

    It listens on loopback, and also on the addresses in ``listen`` (which
    must exist when it starts), trusting clients from the ``trust`` subnets
    (CIDR): tests/postgres/test_multihost.py reaches it from network
    namespaces this way.
    """

    def __init__(self, listen: Sequence[str] = (), trust: Sequence[str] = ()) -> None:
        self.listen = ["127.0.0.1", *listen]
        self.trust = list(trust)
        self.bin = find_bin()
        self.root = Path(tempfile.mkdtemp(prefix="honker-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerUnavailable(
                    "running as root, and PostgreSQL refuses to run as root; there is no "
                    "'postgres' system user to run it as (apt-get install -y postgresql "
                    "creates one)"
                ) from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *argv: str) -> None:
        cmd = [*self._as, *argv]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise ServerUnavailable(
                f"{' '.join(argv[:2])} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )

    def start(self) -> PgServer:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.writelines(f"host all all {cidr} trust\n" for cidr in self.trust)
        settings = (*SETTINGS, f"listen_addresses={','.join(self.listen)}")
        options = " ".join(f"-c {s}" for s in settings)
        options += f" -p {self.port} -k {self.root}"
        self._run(
            str(self.bin / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
        )
        try:
            import psycopg
        except ImportError as exc:
            raise ServerUnavailable(
                f"{exc}: install the test extras, pip install -e '.[dev]'"
            ) from None

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DBNAME}")
        return self

    def url(self, dbname: str = DBNAME, *, host: str = "127.0.0.1", **query: str) -> str:
        """A ``postgresql://`` URL of ``dbname`` over TCP (loopback unless ``host``)."""
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"postgresql://{self.user}@{host}:{self.port}/{dbname}?sslmode=disable{extra}"

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text()
        return ""

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(ServerUnavailable, subprocess.TimeoutExpired):
                self._run(str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":
    server = PgServer().start()
    try:
        print(server.url(), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                socket.socket().close()
                import time

                time.sleep(3600)
    finally:
        server.stop()
