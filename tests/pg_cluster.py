"""A throw-away PostgreSQL cluster for the tests: its own data folder, a unix socket only, gone after stop().

The server refuses to run as root, so when the tests run as root the server binaries run as the `postgres` OS
user; as any other user they run as that user. Durability is switched off: the data is thrown away anyway.
"""

from __future__ import annotations

import glob
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

NOT_FOUND = (
    "PostgreSQL server binaries not found: install postgresql-15 (Debian: apt-get install postgresql-15)"
    " so that `pg_config --bindir` finds initdb"
)
SUPERUSER = "autopilot"
# A role that must give its password (every other connection is trusted): for the wrong-password tests.
PASSWORD_USER = "autopilot_pw"
PASSWORD = "right-horse-battery-staple"
SERVER_OS_USER = "postgres"  # who runs the server when we are root
TIMEOUT = 60  # seconds for any one initdb/pg_ctl call; a healthy start takes well under one


class PgCluster:
    def __init__(self, bindir: Path, root: Path, port: int, as_postgres: bool) -> None:
        self.bindir = bindir
        self.root = root  # the temp dir: data/, the server log and the socket
        self.host = str(root)  # a folder, so libpq connects over the unix socket in it
        self.port = port
        self.user = SUPERUSER
        self._as_postgres = as_postgres

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str, user: str | None = None) -> str:
        return f"postgresql://{user or self.user}@/{dbname}?host={self.host}&port={self.port}"

    def create_database(self, name: str, template: str | None = None) -> str:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        self._admin(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # FORCE: a test that leaked a connection must not make the drop hang or fail.
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        # immediate: no checkpoint, since nothing here is worth keeping.
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _admin(self, statement: sql.Composed) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction block, hence autocommit.
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        # As root: drop to postgres entirely (uid, gid, no supplementary groups); the server refuses root.
        # None leaves the identity alone, for a non-root user.
        user = SERVER_OS_USER if self._as_postgres else None
        result = subprocess.run([str(self.bindir / program), *args], cwd=self.root, capture_output=True, text=True,
                                timeout=TIMEOUT, check=False, user=user, group=user,
                                extra_groups=[] if user else None)
        if check and result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stdout}{result.stderr}{tail}")


class DatabaseSupply:
    """Databases copied from a template ahead of the tests that take them, and dropped after, by one
    background thread: a test waits for neither (a copy is ~50 ms of server work, a drop ~10 ms, for each
    of the hundreds of tests that run on PostgreSQL). The thread blocks on its queue of tasks; nothing polls."""

    def __init__(self, cluster: PgCluster, template: str, ahead: int = 2) -> None:
        self._cluster = cluster
        self._template = template
        self._tasks: queue.Queue[str | None] = queue.Queue()  # "" = make one more; a name = drop it
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        for _ in range(ahead):
            self._tasks.put("")
        self._thread = threading.Thread(target=self._work, name="pg-database-supply", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """The URL of a fresh copy of the template, for one test."""
        item = self._ready.get(timeout=TIMEOUT)
        self._tasks.put("")
        if isinstance(item, BaseException):
            raise RuntimeError(f"could not prepare a test database: {item}") from item
        return item

    def give_back(self, url: str) -> None:
        self._tasks.put(url.split("?")[0].rsplit("/", 1)[1])

    def stop(self) -> None:
        """Finish every task given so far, then drop the copies made ahead that no test took."""
        self._tasks.put(None)
        self._thread.join(timeout=TIMEOUT)
        while not self._ready.empty():
            item = self._ready.get()
            if isinstance(item, str):
                self._cluster.drop_database(item.split("?")[0].rsplit("/", 1)[1])

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            try:
                if task:
                    self._cluster.drop_database(task)
                else:
                    name = f"test_{uuid.uuid4().hex[:16]}"
                    self._ready.put(self._cluster.create_database(name, template=self._template))
            except Exception as exc:  # handed to the test that takes it, which fails with it
                if not task:
                    self._ready.put(exc)


def find_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: pg_config's answer, else the newest Debian-style install."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    # pg_config may come from a client-only package (libpq-dev) whose bindir has no initdb.
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in versions), key=lambda p: _version(p.parent.name), reverse=True)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def start_cluster() -> PgCluster:
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(NOT_FOUND)
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="autopilot-pg-"))
    if as_postgres:
        shutil.chown(root, SERVER_OS_USER, SERVER_OS_USER)
    cluster = PgCluster(bindir, root, _free_port(), as_postgres)
    try:
        # --locale=C: no dependence on which locales the machine has generated; --no-sync: speed.
        cluster._run("initdb", "-D", str(cluster.data), "-U", SERVER_OS_USER, "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync")
        hba = cluster.data / "pg_hba.conf"  # first match wins: this role's line goes before the trusting ones
        hba.write_text(f"local all {PASSWORD_USER} scram-sha-256\n" + hba.read_text())
        options = (f"-k {root} -c listen_addresses='' -p {cluster.port}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        # -l: without a log file the server inherits pg_ctl's stdout, and capturing it would never see EOF.
        cluster._run("pg_ctl", "-D", str(cluster.data), "-l", str(root / "server.log"), "-o", options, "-w",
             "start")
        with psycopg.connect(f"postgresql://{SERVER_OS_USER}@/postgres?host={root}&port={cluster.port}",
                             autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN").format(sql.Identifier(SUPERUSER)))
            conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN PASSWORD {}").format(
                sql.Identifier(PASSWORD_USER), sql.Literal(PASSWORD)))
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _free_port() -> int:
    # No TCP listener is started: the port only names the socket file, but a free one avoids confusing anyone.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())
