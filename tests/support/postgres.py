"""A throwaway PostgreSQL server for the tests: initdb into a temporary directory (in /dev/shm when it has room),
started with pg_ctl on a free port of 127.0.0.1, with durability switched off (the data is thrown away), stopped and
deleted at the end.

PostgreSQL refuses to run as root: under root, initdb and pg_ctl run as an unprivileged system user (created once
if missing) through runuser, and the temporary directory belongs to that user.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

SERVER_USER = "tocsin-pg"  # who runs the server when the tests run as root
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
REQUIRE_VARIABLE = "TOCSIN_REQUIRE_POSTGRES"  # set (non-empty) in CI: no PostgreSQL fails the tests, never skips them
LOG_TAIL_LINES = 40
SHM_ROOM_BYTES = 2 << 30  # a /dev/shm smaller than this (Docker's is 64 MiB) is not used for the data
_names = itertools.count(1)


class PostgresError(RuntimeError):
    """initdb, pg_ctl or the server failed; the message carries their output and the tail of the server log."""


def find_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH first, else the newest /usr/lib/postgresql/*/bin
    (Debian's packages put them there, off PATH); None if PostgreSQL is not installed."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        resolved = Path(initdb).resolve().parent  # a symlink on PATH: the real directory, with postgres beside it
        if (resolved / "pg_ctl").is_file():
            return resolved
        if Path(initdb).parent == Path(pg_ctl).parent:
            return Path(initdb).parent
    candidates = [Path(path) for path in glob.glob(DEBIAN_BINARIES)]
    candidates = [path for path in candidates if (path / "initdb").is_file() and (path / "pg_ctl").is_file()]
    return max(candidates, key=_version_key, default=None)


def _version_key(binaries: Path) -> tuple[int, ...]:
    """/usr/lib/postgresql/15/bin -> (15,); 9.6 -> (9, 6): 15 is newer than 9.6."""
    return tuple(int(part) for part in re.findall(r"\d+", binaries.parent.name)) or (-1,)


def binaries_or_skip() -> Path:
    """The binaries for a fixture, or the test skipped when there are none; failed instead when
    TOCSIN_REQUIRE_POSTGRES is set, so that CI can never skip the PostgreSQL tests silently."""
    binaries = find_binaries()
    if binaries is not None:
        return binaries
    where = f"looked on PATH and in {DEBIAN_BINARIES}"
    if os.environ.get(REQUIRE_VARIABLE):
        pytest.fail(
            f"PostgreSQL is required ({REQUIRE_VARIABLE} is set) but initdb/pg_ctl were not found: {where}; "
            "install PostgreSQL (Debian: apt-get install postgresql)",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL is not installed (initdb/pg_ctl not found): {where}; set {REQUIRE_VARIABLE}=1 to fail")


def default_parent() -> Path | None:
    """Where the server's temporary directory goes: a RAM filesystem (/dev/shm) when there is one with room to
    spare, for speed (CREATE DATABASE writes ~300 files: ~20 ms there, ten times that on some disks); else None, the
    system's temporary directory."""
    shm = Path("/dev/shm")
    try:
        room = os.statvfs(shm)
    except OSError:
        return None
    enough = room.f_bavail * room.f_frsize >= SHM_ROOM_BYTES
    return shm if enough and os.access(shm, os.W_OK | os.X_OK) else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_user() -> pwd.struct_passwd:
    """The unprivileged system user that runs the server under root, created the first time it is needed."""
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    created = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
        capture_output=True,
        text=True,
    )
    try:
        return pwd.getpwnam(SERVER_USER)  # also when another process created it first (useradd exits 9 then)
    except KeyError:
        raise PostgresError(
            f"cannot create the user {SERVER_USER!r} to run PostgreSQL as (it refuses to run as root): "
            f"useradd exited {created.returncode}: {created.stderr.strip()}"
        ) from None


class PostgresServer:
    """One PostgreSQL server in a temporary directory, on 127.0.0.1 and a port chosen free when it first starts.

    ``start()`` runs initdb the first time, then ``pg_ctl start``; ``stop()`` is a fast shutdown, ``kill()`` an
    immediate one (no checkpoint: the next start recovers from the WAL), ``restart()`` a stop and a start on the
    same port and data. ``remove()`` stops the server and deletes its directory.
    """

    def __init__(self, binaries: Path | None = None, *, parent: Path | None = None) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise PostgresError(f"PostgreSQL is not installed: no initdb/pg_ctl on PATH or in {DEBIAN_BINARIES}")
        self.binaries = found
        self.parent = parent if parent is not None else default_parent()  # None: the system's temporary directory
        self.base: Path | None = None
        self.port: int | None = None
        self.running = False
        self._user = server_user() if os.geteuid() == 0 else None

    @property
    def data(self) -> Path:
        return self._base() / "data"

    @property
    def log(self) -> Path:
        return self._base() / "server.log"

    def _base(self) -> Path:
        if self.base is None:
            raise PostgresError("the server has not been started")
        return self.base

    def dsn(self, dbname: str = "postgres") -> str:
        if self.port is None:
            raise PostgresError("the server has not been started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        if self.running:
            return
        if self.base is None:
            self._make_directory()
        if not (self.data / "PG_VERSION").exists():
            self._pg(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
                "--no-sync", what="initdb",
            )  # fmt: skip
        first = self.port is None
        for attempt in range(3):
            if first:
                self.port = free_port()
            try:
                self._pg_ctl("start", "-w", "-l", str(self.log), "-o", self._server_options(), what="pg_ctl start")
            except PostgresError:
                # Another process took the port between choosing it and the server binding it: choose again.
                if first and attempt < 2 and "Address already in use" in self.log_tail():
                    continue
                raise
            break
        self.running = True

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended, a checkpoint written."""
        if self.running:
            self.running = False
            self._pg_ctl("stop", "-w", "-m", "fast", what="pg_ctl stop")

    def kill(self) -> None:
        """An immediate shutdown: no checkpoint, as after a crash; the next start recovers from the WAL."""
        if self.running:
            self.running = False
            self._pg_ctl("stop", "-w", "-m", "immediate", what="pg_ctl stop -m immediate")

    def restart(self) -> None:
        """Stop (fast) and start again, on the same port and the same data."""
        self.stop()
        self.start()

    def remove(self) -> None:
        """Stop the server (if it runs) and delete its directory."""
        if self.base is None:
            return
        try:
            self.stop()
        except PostgresError:
            self.running = False
            immediately = self._as_server_user(self._pg_ctl_command("stop", "-w", "-m", "immediate"))
            subprocess.run(immediately, cwd=self.base, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None
        atexit.unregister(self.remove)

    def create_database(self) -> str:
        """A fresh, empty database with a name of its own; returns its DSN."""
        import psycopg  # here, not at the top: the suite imports this module without needing psycopg
        from psycopg import sql

        name = f"test_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def drop_database(self, dsn: str) -> None:
        """Drop the database of ``dsn`` (made by create_database), ending any session still open on it."""
        import psycopg
        from psycopg import sql

        name = dsn.rpartition("/")[2]
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except (OSError, PostgresError):
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    # --- running initdb and pg_ctl ----------------------------------------------------------------------------

    def _make_directory(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="tocsin-pg-", dir=self.parent))
        atexit.register(self.remove)  # no server left behind if the session ends without its teardown
        self.data.mkdir(mode=0o700)
        if self._user is not None:
            for path in (self.base, self.data):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _server_options(self) -> str:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self._base()),  # ours, not /var/run/postgresql
            # The data is thrown away and the machine never crashes under a test, so skipping the syncs to disk
            # loses nothing; synchronous_commit stays on: a commit is in the log before it returns, so a killed
            # server (kill(), the tests of a database that dies) comes back with every commit it acknowledged.
            "fsync": "off",
            "full_page_writes": "off",
        }
        # pg_ctl hands these to the postgres command line through the shell: quote the values.
        return " ".join([f"-p {self.port}", *(f"-c {name}={shlex.quote(value)}" for name, value in settings.items())])

    def _pg_ctl_command(self, *arguments: str) -> list[str]:
        return [str(self.binaries / "pg_ctl"), "-D", str(self.data), *arguments]

    def _pg_ctl(self, *arguments: str, what: str) -> None:
        self._run(self._pg_ctl_command(*arguments), what)

    def _pg(self, program: str, *arguments: str, what: str) -> None:
        self._run([str(self.binaries / program), *arguments], what)

    def _as_server_user(self, command: list[str]) -> list[str]:
        return command if self._user is None else ["runuser", "-u", self._user.pw_name, "--", *command]

    def _run(self, command: list[str], what: str) -> None:
        env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}  # no PGDATA, PGPORT
        done = subprocess.run(
            self._as_server_user(command), cwd=self._base(), env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise PostgresError(
                f"{what} failed (exit {done.returncode}): {shlex.join(command)}\n{output}\n"
                f"--- the last lines of the server log ({self.log}):\n{self.log_tail()}"
            )
