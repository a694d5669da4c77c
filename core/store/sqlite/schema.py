"""The SQLite schema of :mod:`tocsin.store.sqlite.store`, its migrations, and how a database file is opened.

Rows are JSON documents written with the kernel's converter, next to the few columns that are queried
(status, due times, versions, keys). A field added to a model therefore needs no migration; a new column
or index does: append a step to :data:`MIGRATIONS` (never edit a step that has shipped). Opening a file
applies the steps it has not seen yet, each in its own transaction, and records the version in the
``schema_version`` table; a file written by a newer tocsin is refused.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tocsin.store.documents import policy_digest
from tocsin.store.errors import StoreError
from tocsin.store.operations_sql import operations_tables

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "connect", "migrate"]


Migration = tuple[str, ...] | Callable[[sqlite3.Connection], None]

_V1: tuple[str, ...] = (
    """CREATE TABLE escalations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        escalation_id TEXT NOT NULL UNIQUE,
        incident_id TEXT NOT NULL,
        status TEXT NOT NULL,
        next_due INTEGER,
        version INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER,
        policy TEXT NOT NULL,
        incident TEXT NOT NULL,
        state TEXT NOT NULL
    )""",
    "CREATE INDEX escalations_incident ON escalations (incident_id, seq)",
    "CREATE INDEX escalations_due ON escalations (next_due) WHERE status IN ('active', 'acknowledged')",
    """CREATE TABLE journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        escalation_id TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        event TEXT NOT NULL
    )""",
    "CREATE INDEX journal_escalation ON journal (escalation_id, seq)",
    """CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        escalation_id TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_until INTEGER,
        dead_seq INTEGER,
        notification TEXT NOT NULL,
        result TEXT
    )""",
    "CREATE INDEX outbox_escalation ON outbox (escalation_id, seq)",
    "CREATE INDEX outbox_unsettled ON outbox (seq) WHERE status IN ('pending', 'sending', 'failed')",
    "CREATE INDEX outbox_dead ON outbox (dead_seq) WHERE status = 'dead'",
    """CREATE TABLE delivery_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        result TEXT NOT NULL
    )""",
    "CREATE INDEX delivery_log_key ON delivery_log (key, seq)",
    """CREATE TABLE disabled_endpoints (
        channel TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (channel, endpoint)
    )""",
    """CREATE TABLE incidents (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        dedup_key TEXT,
        is_open INTEGER NOT NULL,
        state TEXT NOT NULL,
        saved INTEGER NOT NULL,
        incident TEXT NOT NULL
    )""",
    "CREATE INDEX incidents_open_dedup ON incidents (dedup_key, saved) WHERE is_open = 1",
    """CREATE TABLE incident_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        incident TEXT NOT NULL
    )""",
    "CREATE INDEX incident_history_incident ON incident_history (incident_id, seq)",
    """CREATE TABLE incident_duplicates (
        incident_id TEXT PRIMARY KEY,
        count INTEGER NOT NULL
    )""",
    """CREATE TABLE round_robin (
        policy_id TEXT NOT NULL,
        level INTEGER NOT NULL,
        cursor INTEGER NOT NULL,
        PRIMARY KEY (policy_id, level)
    )""",
)

# Version 2: the store enforces dedup (at most one open incident per dedup key: of open duplicates left by
# older versions the newest keeps the key), and remembers the Idempotency-Key of each raised incident.
_V2: tuple[str, ...] = (
    """UPDATE incidents SET dedup_key = NULL
       WHERE is_open = 1 AND dedup_key IS NOT NULL AND saved < (
           SELECT MAX(newer.saved) FROM incidents AS newer
           WHERE newer.is_open = 1 AND newer.dedup_key = incidents.dedup_key
       )""",
    "CREATE UNIQUE INDEX incidents_one_open_per_dedup_key ON incidents (dedup_key) WHERE is_open = 1",
    """CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        at INTEGER NOT NULL
    )""",
)

# Version 3: a policy snapshot is stored once per policy version (``policies``, keyed by the digest of its
# JSON) and an escalation refers to it by ``policy_seq``, instead of every escalation carrying its own copy.
_ESCALATIONS_V3 = """CREATE TABLE escalations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    escalation_id TEXT NOT NULL UNIQUE,
    incident_id TEXT NOT NULL,
    status TEXT NOT NULL,
    next_due INTEGER,
    version INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    policy_seq INTEGER NOT NULL REFERENCES policies (seq),
    incident TEXT NOT NULL,
    state TEXT NOT NULL
)"""


def _v3(connection: sqlite3.Connection) -> None:
    connection.execute(
        """CREATE TABLE policies (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            digest TEXT NOT NULL UNIQUE,
            policy_id TEXT NOT NULL,
            policy TEXT NOT NULL
        )"""
    )
    for (text,) in connection.execute("SELECT policy FROM escalations GROUP BY policy ORDER BY MIN(seq)").fetchall():
        try:
            policy_id = str(json.loads(text).get("id", ""))
        except (ValueError, AttributeError):
            policy_id = ""  # an unreadable snapshot moves as it is: reading its escalation names it
        connection.execute(
            "INSERT INTO policies (digest, policy_id, policy) VALUES (?, ?, ?)", (policy_digest(text), policy_id, text)
        )
    connection.execute("ALTER TABLE escalations RENAME TO escalations_v2")
    connection.execute(_ESCALATIONS_V3)
    connection.execute(
        "INSERT INTO escalations (seq, escalation_id, incident_id, status, next_due, version, lease_owner, "
        "lease_until, policy_seq, incident, state) SELECT e.seq, e.escalation_id, e.incident_id, e.status, "
        "e.next_due, e.version, e.lease_owner, e.lease_until, p.seq, e.incident, e.state "
        "FROM escalations_v2 AS e JOIN policies AS p ON p.policy = e.policy ORDER BY e.seq"
    )
    connection.execute(  # AUTOINCREMENT: no seq is handed out twice, even one whose row is gone
        "UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'escalations_v2') "
        "WHERE name = 'escalations'"
    )
    connection.execute("DROP TABLE escalations_v2")
    connection.execute("CREATE INDEX escalations_incident ON escalations (incident_id, seq)")
    connection.execute(
        "CREATE INDEX escalations_due ON escalations (next_due) WHERE status IN ('active', 'acknowledged')"
    )


# Version 4: one-time credentials that changed something (action links, signed requests), and rate limits per
# contact: what each contact was sent in its window, and the pages held back until a summary carries them.
_V4: tuple[str, ...] = (
    """CREATE TABLE used_once (
        key TEXT PRIMARY KEY,
        used_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    )""",
    "CREATE INDEX used_once_expiry ON used_once (expires_at)",
    """CREATE TABLE contact_sends (
        channel TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        key TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (channel, endpoint, key)
    )""",
    "CREATE INDEX contact_sends_window ON contact_sends (channel, endpoint, at)",
    """CREATE TABLE folds (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        release_at INTEGER NOT NULL,
        summary_key TEXT
    )""",
    "CREATE INDEX folds_waiting ON folds (channel, endpoint, seq) WHERE summary_key IS NULL",
)

# Version 5: what operators change while the pager runs (tocsin.store.operations): overrides made at run time,
# incident notes, heartbeat monitors, maintenance windows and the incidents they held.
_V5 = operations_tables("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER")

# Version 6: a completed escalation (every level fired, nobody answered) is exhausted and stays open until it is
# acknowledged, resolved or cancelled, so the due-time index covers it. Completed escalations left by older
# versions become resolved when their incident is no longer open, and cancelled when a newer escalation of
# their incident exists (at most one escalation per incident is open).
_V6: tuple[str, ...] = (
    """UPDATE escalations SET status = 'resolved'
       WHERE status = 'completed' AND incident_id IN (SELECT id FROM incidents WHERE is_open = 0)""",
    """UPDATE escalations SET status = 'cancelled'
       WHERE status = 'completed' AND EXISTS (
           SELECT 1 FROM escalations AS newer
           WHERE newer.incident_id = escalations.incident_id AND newer.seq > escalations.seq
       )""",
    "DROP INDEX escalations_due",
    "CREATE INDEX escalations_due ON escalations (next_due) WHERE status IN ('active', 'acknowledged', 'completed')",
)

# Version 7: the tokens of the calendar feeds (``/v1/feeds/...``), which an admin creates and rotates at run time.
_V7: tuple[str, ...] = (
    """CREATE TABLE feed_tokens (
        feed TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        at INTEGER NOT NULL
    )""",
)

# Step n (1-based) brings a database from version n-1 to version n. Append only.
MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _v3, _V4, _V5, _V6, _V7)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: str | Path, *, synchronous: str = "full", busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path``: WAL journal, the given ``synchronous`` level, a busy
    timeout and autocommit mode (transactions are begun explicitly). Raises ``StoreError``."""
    name = str(path)
    if name != ":memory:":
        parent = Path(name).parent
        if not parent.is_dir():
            raise StoreError(f"store {name}: the directory {parent} does not exist")
        for place in (Path(name), parent):  # the database, and beside it its -wal and -shm files
            if place.exists() and not os.access(place, os.W_OK):
                why = "its filesystem is mounted read-only" if _read_only_mount(place) else "this user may not write it"
                raise StoreError(f"store {name}: {place} is read-only ({why}); tocsin must write its database there")
    try:
        connection = sqlite3.connect(
            name, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if name != ":memory:" and str(mode).lower() != "wal":
            raise StoreError(f"store {name}: cannot switch the journal to WAL mode (got {mode!r})")
        connection.execute(f"PRAGMA synchronous = {'FULL' if synchronous == 'full' else 'NORMAL'}")
        connection.execute("PRAGMA cache_size = -16000")  # 16 MB of page cache (the default is 2 MB)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"store {name}: cannot open as a SQLite database: {exc}") from None
    return connection


def _read_only_mount(place: Path) -> bool:
    return bool(os.statvfs(place).f_flag & os.ST_RDONLY)


def migrate(connection: sqlite3.Connection, name: str) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; returns the version found before. Raises ``StoreError``."""
    try:
        found = _version(connection)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"store {name}: cannot read it as a SQLite database: {exc}") from None
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"store {name}: schema version {found} was written by a newer tocsin (this one knows up to "
            f"{SCHEMA_VERSION}); upgrade tocsin or use another file"
        )
    for number in range(found + 1, SCHEMA_VERSION + 1):
        step = MIGRATIONS[number - 1]
        connection.execute("BEGIN IMMEDIATE")
        try:
            if _version(connection) >= number:  # another process migrated meanwhile
                connection.execute("ROLLBACK")
                continue
            if callable(step):
                step(connection)
            else:
                for statement in step:
                    connection.execute(statement)
            connection.execute("DELETE FROM schema_version")
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
            connection.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            connection.execute("ROLLBACK")
            raise StoreError(f"store {name}: migration to schema version {number} failed: {exc}") from None
    return found


def _version(connection: sqlite3.Connection) -> int:
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0
