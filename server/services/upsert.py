"""INSERT ... ON CONFLICT for the database in use (PostgreSQL or SQLite): both dialects' insert
constructs have `on_conflict_do_nothing` and `on_conflict_do_update`; the generic one has neither."""

from server.extensions import db


def upsert(model):
    """The dialect's `insert(model)`, for a statement with an ON CONFLICT clause."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two databases we run on
        raise NotImplementedError(dialect)
    return insert(model)
