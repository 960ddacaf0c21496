"""Shared assertions for API tests."""


def assert_problem(r, status: int, slug: str | None = None) -> dict:
    """`r` is an application/problem+json answer with this status (and type slug); returns its body."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["type"].startswith("urn:cellwms:problem:")
    assert body["status"] == status and body["title"]
    if slug:
        assert body["type"] == f"urn:cellwms:problem:{slug}"
    return body


def count(db, model) -> int:
    """Rows of `model` in the database."""
    from sqlalchemy import func, select

    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def import_errors(call, *args, **kwargs) -> list[tuple[int, str]]:
    """(line, field) of each error of an import that must fail as a whole."""
    import pytest

    from server.services.importer import ImportFailed

    with pytest.raises(ImportFailed) as caught:
        call(*args, **kwargs)
    return [(e.line, e.field) for e in caught.value.errors]
