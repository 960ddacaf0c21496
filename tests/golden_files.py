"""Golden files: compare output with a stored file; CELLWMS_UPDATE_GOLDEN=1 rewrites it and fails.

A run that rewrites goldens never passes as green: each rewritten case fails with the file it
wrote, so the new files are reviewed (git diff) and checked by a second, plain run.
"""

import os
from pathlib import Path

import pytest

UPDATE = "CELLWMS_UPDATE_GOLDEN"


def updating() -> bool:
    return bool(os.environ.get(UPDATE))


def check_golden(path: Path, data: bytes, explain=lambda: "") -> None:
    """`data` equals the golden file `path`; in update mode write it, then fail saying so."""
    if updating():
        before = path.read_bytes() if path.exists() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        what = "created" if before is None else "unchanged" if before == data else "changed"
        pytest.fail(f"{UPDATE}=1 wrote {path} ({what}); review it, then run again without {UPDATE}", pytrace=False)
    assert path.exists(), f"no golden file {path.name}: run with {UPDATE}=1"
    assert data == path.read_bytes(), f"{path.name} differs\n{explain()}"
