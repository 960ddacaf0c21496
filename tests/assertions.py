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
