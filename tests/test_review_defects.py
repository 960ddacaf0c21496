"""Issue 12's defects that had no test reaching them through what existed before their fix
(91eb29a): each test here fails there and passes now. Only long-standing names are used
(pages, API paths, the shipped unit file, pyproject, the demo's codes)."""

import hashlib
import shlex
import subprocess
import sys
import time
import tomllib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from server.models import Delivery
from tests import factories as f
from tests.test_pages import sign_in_badge, signed_in
from tests.test_station_cli import SITECUSTOMIZE

ROOT = Path(__file__).parent.parent
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"


# --- sessions and live streams -----------------------------------------------------------------


def test_a_session_older_than_the_maximum_lifetime_is_signed_out(client, db, monkeypatch):
    f.user("ivan", ("picker",), badge="B-1")
    db.session.commit()
    sign_in_badge(client, "B-1")
    assert signed_in(client)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 13 * 3600)  # 13 h later
    assert not signed_in(client)


def test_a_third_live_stream_of_one_user_is_refused(app, client, db):
    app.config.update(CELLWMS_STREAM_POLL_SECONDS=0.05)
    wh = f.warehouse()
    f.station(wh, "PACK-1", "pack")
    f.user("pavel", ("packer",), badge="B-2002")
    db.session.commit()
    sign_in_badge(client, "B-2002")
    opened = [client.get("/stations/PACK-1/stream", buffered=False) for _ in range(2)]
    try:
        assert [r.status_code for r in opened] == [200, 200]
        third = client.get("/stations/PACK-1/stream", buffered=False)
        opened.append(third)
        assert third.status_code == 429
    finally:
        for r in opened:
            r.close()


def test_a_stream_whose_client_went_away_is_noticed_within_seconds_by_default(tmp_path):
    """A stream learns its client is gone only at its next write: the default keep-alive bounds
    how long a closed stream holds its thread."""
    from server.config import load_config

    assert load_config(str(tmp_path))["CELLWMS_STREAM_KEEPALIVE_SECONDS"] <= 5


# --- media -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a\r\nSet-Cookie: x=1.jpg", "p\n.jpg"])
def test_a_media_name_with_cr_or_lf_never_breaks_serving(client, db, name):
    wh, _zone, _cells, _sku = f.stocked_warehouse()
    _station, auth = f.station(wh, code="PACK-1", kind="pack")
    boss = f.token_for(f.user("boss", roles=("supervisor",), password="secret-123"))
    db.session.commit()
    media = "/api/v1/stations/me/media"
    r = client.post(media, json={"sha256": hashlib.sha256(JPEG).hexdigest(), "size": len(JPEG), "kind": "photo",
                                 "content_type": "image/jpeg", "filename": name}, headers=auth)
    if r.status_code != 201:
        assert r.status_code == 422 and r.mimetype == "application/problem+json"
        return
    media_id = r.json["id"]
    assert client.patch(f"{media}/{media_id}", data=JPEG, content_type="application/offset+octet-stream",
                        headers={**auth, "Upload-Offset": "0"}).status_code == 204
    served = client.get(f"/api/v1/media/{media_id}", headers=boss)
    assert served.status_code == 200
    assert "\n" not in served.headers.get("Content-Disposition", "")


# --- the station agent as shipped --------------------------------------------------------------


def _unit_command() -> list[str]:
    """The program and subcommand words the shipped systemd unit starts (options left out)."""
    unit = (ROOT / "deploy" / "cellwms-station@.service").read_text().replace("\\\n", " ")
    line = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    program = Path(sys.executable).with_name(Path(words[0]).name)
    subcommand = []
    for word in words[1:]:
        if word.startswith("-"):
            break
        subcommand.append(word)
    return [str(program), *subcommand]


def _run_unit_help(tmp_path, block_server: bool):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    if block_server:
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env["PYTHONPATH"] = str(site)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = subprocess.run([*_unit_command(), "--help"], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60)
    return proc, cwd


def test_the_shipped_station_unit_starts_without_the_servers_libraries(tmp_path):
    proc, _cwd = _run_unit_help(tmp_path, block_server=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--profile" in proc.stdout


def test_the_shipped_station_unit_writes_nothing_in_its_working_directory(tmp_path):
    proc, cwd = _run_unit_help(tmp_path, block_server=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(cwd.iterdir()) == []


def test_the_base_install_has_neither_the_servers_libraries_nor_opencv():
    """What a station PC and the server host both install: no Flask/SQLAlchemy for the one, no
    OpenCV for the other."""
    import re

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in project["dependencies"]}
    assert not base & {"flask", "flask-sqlalchemy", "sqlalchemy", "flask-migrate", "psycopg", "gunicorn",
                       "opencv-python-headless", "opencv-python"}


# --- the demo ----------------------------------------------------------------------------------


def test_a_demo_dock_has_nothing_to_scan_once_its_asn_is_received(db):
    from server.commands.demo_stations import DEMO_STATIONS, demo_codes
    from server.services.demo import DemoSize, seed_demo
    from server.services.demo_flows import DEMO_ASN_SHORT

    seed_demo(DemoSize(blocks=2, aisles=3, bays=4, levels=2, skus=60, stocked_share=0.5), today=date(2025, 3, 1))
    db.session.commit()
    dock = next(s for s in DEMO_STATIONS if s.code == "DOCK-1")
    assert demo_codes(dock)[0] == DEMO_ASN_SHORT
    delivery = db.session.execute(select(Delivery).filter_by(number=DEMO_ASN_SHORT)).scalar_one()
    delivery.status = "receiving"
    db.session.commit()
    assert demo_codes(dock) == []
