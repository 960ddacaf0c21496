"""PostgreSQL transaction-level advisory locks on a name (what may not exist as a row yet: a
warehouse code, an Idempotency-Key). Held until the transaction ends; SQLite needs none, its
write transaction already holds the database's write lock."""

import hashlib

from sqlalchemy import text

from server.extensions import db


def advisory_lock_id(*name: str) -> int:
    """The signed 64-bit lock number of a name given in parts (the first part says whose lock)."""
    digest = hashlib.sha256("\n".join(name).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def hold_advisory_lock(*name: str) -> None:
    """Wait for the lock on `name` and hold it until this transaction commits or rolls back."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": advisory_lock_id(*name)})
