"""The PostgreSQL schema of :mod:`tocsin.store.postgres.store`, its migrations, and how they are applied.

The tables are the SQLite store's (indexed columns next to JSON documents written with the kernel's converter,
instants as integer microseconds), with what several instances on one database need besides: at most one
open escalation per incident is a unique index, not a check made under a file lock. Migrations are forward
only and numbered; :func:`migrate` applies the ones a database has not seen under an advisory lock (two
instances starting together never both run one) and records the version in ``schema_version``;
:func:`check_version` refuses a database a newer tocsin wrote. ``tocsin db migrate`` runs them; ``tocsin
serve`` runs them at start-up too, unless told the schema is managed separately.
"""

from __future__ import annotations

from typing import Any

from tocsin.store.errors import StoreError
from tocsin.store.operations_sql import operations_tables

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "check_version", "migrate", "read_version"]

_V1: tuple[str, ...] = (
    """CREATE TABLE policies (
        seq BIGSERIAL PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        policy_id TEXT NOT NULL,
        policy TEXT NOT NULL
    )""",
    """CREATE TABLE escalations (
        seq BIGSERIAL PRIMARY KEY,
        escalation_id TEXT NOT NULL UNIQUE,
        incident_id TEXT NOT NULL,
        status TEXT NOT NULL,
        next_due BIGINT,
        version BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        policy_seq BIGINT NOT NULL REFERENCES policies (seq),
        incident TEXT NOT NULL,
        state TEXT NOT NULL
    )""",
    "CREATE INDEX escalations_incident ON escalations (incident_id, seq)",
    "CREATE INDEX escalations_due ON escalations (next_due) WHERE status IN ('active', 'acknowledged')",
    # Two instances starting an escalation for one incident at once: the second insert fails, as a stale write.
    "CREATE UNIQUE INDEX escalations_one_open ON escalations (incident_id) WHERE status IN ('active', 'acknowledged')",
    """CREATE TABLE journal (
        seq BIGSERIAL PRIMARY KEY,
        escalation_id TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        event TEXT NOT NULL
    )""",
    "CREATE INDEX journal_escalation ON journal (escalation_id, seq)",
    """CREATE TABLE outbox (
        seq BIGSERIAL PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        escalation_id TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        lease_until BIGINT,
        dead_seq BIGINT,
        notification TEXT NOT NULL,
        result TEXT
    )""",
    "CREATE INDEX outbox_escalation ON outbox (escalation_id, seq)",
    "CREATE INDEX outbox_unsettled ON outbox (seq) WHERE status IN ('pending', 'sending', 'failed')",
    "CREATE INDEX outbox_dead ON outbox (dead_seq) WHERE status = 'dead'",
    """CREATE TABLE delivery_log (
        seq BIGSERIAL PRIMARY KEY,
        key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at BIGINT NOT NULL,
        ok BOOLEAN NOT NULL,
        result TEXT NOT NULL
    )""",
    "CREATE INDEX delivery_log_key ON delivery_log (key, seq)",
    """CREATE TABLE disabled_endpoints (
        channel TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        reason TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (channel, endpoint)
    )""",
    """CREATE TABLE incidents (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        dedup_key TEXT,
        is_open BOOLEAN NOT NULL,
        state TEXT NOT NULL,
        saved BIGINT NOT NULL,
        incident TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX incidents_one_open_per_dedup_key ON incidents (dedup_key) WHERE is_open",
    """CREATE TABLE incident_history (
        seq BIGSERIAL PRIMARY KEY,
        incident_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        incident TEXT NOT NULL
    )""",
    "CREATE INDEX incident_history_incident ON incident_history (incident_id, seq)",
    """CREATE TABLE incident_duplicates (
        incident_id TEXT PRIMARY KEY,
        count BIGINT NOT NULL
    )""",
    """CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        at BIGINT NOT NULL
    )""",
    """CREATE TABLE round_robin (
        policy_id TEXT NOT NULL,
        level INTEGER NOT NULL,
        cursor BIGINT NOT NULL,
        PRIMARY KEY (policy_id, level)
    )""",
)

# Version 2: each commit that leaves an escalation open announces when it becomes claimable (its next due time,
# or the end of a lease just taken, whichever is later) on the channel instances LISTEN on
# (tocsin.store.postgres.listen). Sent at commit; nothing is sent for a transaction rolled back.
_V2: tuple[str, ...] = (
    """CREATE FUNCTION tocsin_announce_due() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status IN ('active', 'acknowledged', 'completed') AND NEW.next_due IS NOT NULL THEN
            PERFORM pg_notify('tocsin_due', GREATEST(NEW.next_due, COALESCE(NEW.lease_until, 0))::text);
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER escalations_announce_due AFTER INSERT OR UPDATE OF status, next_due, lease_until
    ON escalations FOR EACH ROW EXECUTE FUNCTION tocsin_announce_due()""",
)

# Version 3: one-time credentials that changed something (action links, signed requests), and rate limits per
# contact: what each contact was sent in its window, and the pages held back until a summary carries them.
_V3: tuple[str, ...] = (
    """CREATE TABLE used_once (
        key TEXT PRIMARY KEY,
        used_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    )""",
    "CREATE INDEX used_once_expiry ON used_once (expires_at)",
    """CREATE TABLE contact_sends (
        channel TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        key TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (channel, endpoint, key)
    )""",
    "CREATE INDEX contact_sends_window ON contact_sends (channel, endpoint, at)",
    """CREATE TABLE folds (
        seq BIGSERIAL PRIMARY KEY,
        channel TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        release_at BIGINT NOT NULL,
        summary_key TEXT
    )""",
    "CREATE INDEX folds_waiting ON folds (channel, endpoint, seq) WHERE summary_key IS NULL",
)

# Version 4: what operators change while the pager runs (tocsin.store.operations): overrides made at run time,
# incident notes, heartbeat monitors, maintenance windows and the incidents they held.
_V4 = operations_tables("BIGSERIAL PRIMARY KEY", "BIGINT")

# Version 5: a completed escalation (every level fired, nobody answered) is exhausted and stays open until it is
# acknowledged, resolved or cancelled: the due-time index and the one-open-escalation-per-incident index cover it.
# Completed escalations left by older versions become resolved when their incident is no longer open, and
# cancelled when a newer escalation of their incident exists.
_V5: tuple[str, ...] = (
    """UPDATE escalations SET status = 'resolved'
       WHERE status = 'completed' AND incident_id IN (SELECT id FROM incidents WHERE NOT is_open)""",
    """UPDATE escalations AS old SET status = 'cancelled'
       WHERE old.status = 'completed' AND EXISTS (
           SELECT 1 FROM escalations AS newer WHERE newer.incident_id = old.incident_id AND newer.seq > old.seq
       )""",
    "DROP INDEX escalations_due",
    "CREATE INDEX escalations_due ON escalations (next_due) WHERE status IN ('active', 'acknowledged', 'completed')",
    "DROP INDEX escalations_one_open",
    "CREATE UNIQUE INDEX escalations_one_open ON escalations (incident_id) "
    "WHERE status IN ('active', 'acknowledged', 'completed')",
)

# Version 6: the tokens of the calendar feeds (``/v1/feeds/...``), which an admin creates and rotates at run time.
_V6: tuple[str, ...] = (
    """CREATE TABLE feed_tokens (
        feed TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        at BIGINT NOT NULL
    )""",
)

# Step n (1-based) brings a database from version n-1 to version n. Append only.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
SCHEMA_VERSION = len(MIGRATIONS)
_LOCK = 0x746F6373696E  # the advisory lock migrations hold ("tocsin")


def read_version(connection: Any) -> int:
    """The schema version the database holds (0: none yet)."""
    found = connection.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not found[0]:
        return 0
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def check_version(connection: Any, name: str) -> int:
    """The database's schema version; raises ``StoreError`` when a newer tocsin wrote it or it is behind."""
    found = read_version(connection)
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"store {name}: schema version {found} was written by a newer tocsin (this one knows up to "
            f"{SCHEMA_VERSION}); upgrade tocsin or use another database"
        )
    if found < SCHEMA_VERSION:
        raise StoreError(
            f"store {name}: schema version {found}, this tocsin needs {SCHEMA_VERSION}; run `tocsin db migrate`"
        )
    return found


def migrate(connection: Any, name: str) -> tuple[int, int]:
    """Bring the schema up to :data:`SCHEMA_VERSION` on an autocommit ``connection``; returns the versions
    (before, after). Each step is one transaction, taken under an advisory lock. Raises ``StoreError``."""
    import psycopg

    before = read_version(connection)
    if before > SCHEMA_VERSION:
        check_version(connection, name)
    for number in range(before + 1, SCHEMA_VERSION + 1):
        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                if read_version(connection) >= number:  # another instance migrated meanwhile
                    continue
                for statement in MIGRATIONS[number - 1]:
                    connection.execute(statement)
                connection.execute("DELETE FROM schema_version")
                connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
        except psycopg.Error as exc:
            raise StoreError(f"store {name}: migration to schema version {number} failed: {exc}") from None
    return before, read_version(connection)
