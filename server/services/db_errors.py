"""Which database errors pass by themselves: a deadlock, a serialization failure, a lock that
could not be had in time, a lost connection. The whole unit of work is rolled back and the caller
is told to try again (HTTP 503 with Retry-After); such an error is never stored as the outcome of
an input, because the same input succeeds when sent again."""

from sqlalchemy.exc import DBAPIError, IntegrityError

# PostgreSQL SQLSTATEs: class 40 (transaction rollback: serialization_failure 40001, deadlock_detected
# 40P01, ...), lock_not_available 55P03, class 08 (connection exceptions), admin/crash shutdown and
# cannot_connect_now (57P01-57P03), too_many_connections 53300.
TRANSIENT_SQLSTATE_PREFIXES = ("40", "08")
TRANSIENT_SQLSTATES = {"55P03", "57P01", "57P02", "57P03", "53300"}
# SQLite: another connection holds the write lock longer than the busy timeout.
TRANSIENT_SQLITE_MESSAGES = ("database is locked", "database table is locked", "database is busy")
RETRY_AFTER_S = 1
# A unique index refused a row: PostgreSQL unique_violation, SQLite's own message.
UNIQUE_SQLSTATE = "23505"
UNIQUE_SQLITE_MESSAGE = "unique constraint failed"


def sqlstate_of(error: BaseException) -> str | None:
    orig = getattr(error, "orig", error)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_transient(error: BaseException) -> bool:
    """True for a database error that a retry of the same work may not meet again."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    state = sqlstate_of(error)
    if state:
        return state.startswith(TRANSIENT_SQLSTATE_PREFIXES) or state in TRANSIENT_SQLSTATES
    message = str(getattr(error, "orig", error)).lower()
    return any(text in message for text in TRANSIENT_SQLITE_MESSAGES)


def is_unique_violation(error: BaseException) -> bool:
    """True when a unique index refused a row: the same thing was written by a concurrent request
    between this request's check and its insert (sent one after the other, the check refuses it)."""
    if not isinstance(error, IntegrityError):
        return False
    state = sqlstate_of(error)
    if state:
        return state == UNIQUE_SQLSTATE
    return UNIQUE_SQLITE_MESSAGE in str(getattr(error, "orig", error)).lower()
