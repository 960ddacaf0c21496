"""Evidence packs: built from a parcel's real media files, signed, verified; any changed byte or
another key fails; retention removes only expired files and keeps every record."""

import hashlib
import io
import json
import os
import stat
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from server.commands.worker import Worker
from server.models import MarkingCode, MediaFile, Parcel, ParcelItem, ParcelMedia, Station
from server.models.base import utcnow
from server.services import evidence
from server.services.stations import stored_path
from tests import factories as f
from tests.evidence_helpers import jpeg_bytes, packed_parcel, upload
from tests.test_pages import sign_in_password


def _members(pack: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pack)) as z:
        return {name: z.read(name) for name in z.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def test_pack_is_built_and_verified(db, tmp_path):
    parcel, still, clip = packed_parcel(tmp_path)
    pack = evidence.evidence_pack(parcel.id)
    assert evidence.verify_pack(pack) == []
    members = _members(pack)
    assert members["media/still-1.jpg"] == stored_path(still).read_bytes()
    assert members["media/clip-1.avi"][:4] == b"RIFF"
    manifest = json.loads(members["manifest.json"])
    assert manifest["parcel_id"] == parcel.id and manifest["made_at"]
    listed = {entry["name"]: entry for entry in manifest["files"]}
    assert set(listed) == set(members) - {"manifest.json", "manifest.sig"}  # every file, nothing else
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(members[name]).hexdigest() and entry["size"] == len(members[name])
    scans = json.loads(members["scans.json"])
    assert [(s["sku"], s["quantity"], s["packer"]) for s in scans] == [(f"SKU-{parcel.code[2:]}", 1, "packer")] * 2
    assert scans[0]["code"].startswith("01") and scans[0]["scanned_at"]
    weights = json.loads(members["weights.json"])
    assert weights["expected_g"] == 1500 and weights["weighed_g"] == 1580 and weights["weighed_at"]
    assert weights["override"] == {"by": "boss", "reason": "Box heavier than listed"}
    info = json.loads(members["parcel.json"])
    assert (info["order_number"], info["n"], info["of"], info["tracking_number"], info["station"], info["packer"]) \
        == ("SO-1", 1, 1, "TRSO-1", "PACK-1", "packer")
    assert [(m["kind"], m["status"], m["partial"], m["sha256"]) for m in info["media"]] == [
        ("still", "present", False, still.sha256), ("clip", "present", True, clip.sha256)]
    assert members["public-key.pem"].decode() == evidence.public_key_pem()
    assert len(members["manifest.sig"]) == 64


def test_key_is_made_once_in_the_instance_folder_owner_only(app, db):
    first = evidence.fingerprint()
    path = evidence.key_path()
    assert path.parent == Path(app.instance_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert evidence.fingerprint() == first and len(first) == 64


@pytest.mark.parametrize("name", ["media/still-1.jpg", "media/clip-1.avi", "scans.json", "weights.json",
                                  "parcel.json", "public-key.pem", "manifest.json"])
def test_a_changed_byte_in_any_file_fails(db, tmp_path, name):
    parcel, _, _ = packed_parcel(tmp_path)
    members = _members(evidence.evidence_pack(parcel.id))
    data = bytearray(members[name])
    data[len(data) // 2] ^= 0x01
    members[name] = bytes(data)
    problems = evidence.verify_pack(_zip(members))
    assert problems
    if name == "manifest.json":
        assert any("signature" in p for p in problems)


def test_a_changed_byte_in_the_zip_itself_fails(db, tmp_path):
    parcel, _, _ = packed_parcel(tmp_path)
    pack = bytearray(evidence.evidence_pack(parcel.id))
    pack[len(pack) // 3] ^= 0x40
    assert evidence.verify_pack(bytes(pack))
    assert evidence.verify_pack(b"not a zip") == ["The file is not a ZIP archive."]


def test_an_added_or_removed_file_fails(db, tmp_path):
    parcel, _, _ = packed_parcel(tmp_path)
    members = _members(evidence.evidence_pack(parcel.id))
    added = {**members, "media/still-2.jpg": jpeg_bytes(10)}
    assert evidence.verify_pack(_zip(added)) == ["media/still-2.jpg is not listed in the manifest."]
    removed = {k: v for k, v in members.items() if k != "media/clip-1.avi"}
    assert evidence.verify_pack(_zip(removed)) == ["media/clip-1.avi is listed in the manifest but missing."]


def test_another_key_fails(db, tmp_path):
    parcel, _, _ = packed_parcel(tmp_path)
    pack = evidence.evidence_pack(parcel.id)
    other = Ed25519PrivateKey.generate()
    problems = evidence.verify_pack(pack, evidence.public_key_pem(other.public_key()))
    assert "The manifest's signature is not valid for this public key." in problems
    # Re-signed with another key (and its key enclosed): valid only under that key, not ours.
    members = _members(pack)
    members["manifest.sig"] = other.sign(members["manifest.json"])
    assert evidence.verify_pack(_zip(members))
    assert evidence.verify_pack(pack, evidence.public_key_pem()) == []


def test_a_removed_file_is_listed_as_removed(db, tmp_path):
    parcel, still, clip = packed_parcel(tmp_path, packed_days_ago=200)
    assert evidence.expire_media() == 2
    pack = evidence.evidence_pack(parcel.id)
    assert evidence.verify_pack(pack) == []
    members = _members(pack)
    assert not any(name.startswith("media/") for name in members)
    media = json.loads(members["parcel.json"])["media"]
    assert [(m["kind"], m["status"], m["file"], m["sha256"]) for m in media] == [
        ("still", "removed", None, still.sha256), ("clip", "removed", None, clip.sha256)]
    assert all(m["removed_at"] for m in media)


def _counts(db):
    return {model.__name__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Parcel, ParcelItem, ParcelMedia, MarkingCode, Station)}


def test_retention_removes_only_expired_files_and_keeps_every_record(db, tmp_path):
    wh = f.warehouse()
    wh.media_retention_days = 30
    station, _ = f.station(wh, code="PACK-1", kind="pack")
    old, old_still, old_clip = packed_parcel(tmp_path, "SO-OLD", wh=wh, station=station, packed_days_ago=31, shade=10)
    new, new_still, new_clip = packed_parcel(tmp_path, "SO-NEW", wh=wh, station=station, packed_days_ago=29, shade=200,
                                             code_suffix="b")
    other_upload = upload(station, jpeg_bytes(77), "photo")  # a station photo of no parcel
    db.session.commit()
    old_paths = [stored_path(old_still), stored_path(old_clip)]
    kept_paths = [stored_path(new_still), stored_path(new_clip), stored_path(other_upload)]
    before = _counts(db)
    old_id, new_id, old_sha = old.id, new.id, (old_still.sha256, old_clip.sha256)

    assert evidence.expire_media() == 2
    assert not any(p.exists() for p in old_paths)
    assert all(p.exists() for p in kept_paths)
    assert _counts(db) == before  # every record stays
    db.session.expire_all()
    old_media = db.session.execute(select(ParcelMedia).where(ParcelMedia.parcel_id == old_id)
                                   .order_by(ParcelMedia.id)).scalars().all()
    assert [(m.sha256, m.media_file_id is None, m.removed_at is not None) for m in old_media] == [
        (old_sha[0], True, True), (old_sha[1], True, True)]
    assert db.session.execute(select(func.count()).select_from(MediaFile)).scalar_one() == 3  # new still, clip, upload
    assert all(m.removed_at is None for m in db.session.execute(
        select(ParcelMedia).where(ParcelMedia.parcel_id == new_id)).scalars())
    assert evidence.expire_media() == 0  # nothing twice
    assert evidence.expire_media(now=utcnow() + timedelta(days=2)) == 2  # the newer parcel's turn
    assert all(p.exists() for p in kept_paths[2:])


def test_a_file_shared_with_another_upload_stays(db, tmp_path):
    wh = f.warehouse()
    wh.media_retention_days = 1
    parcel, still, _ = packed_parcel(tmp_path, wh=wh, packed_days_ago=2)
    other, _ = f.station(wh, code="PACK-2", kind="pack")
    twin = upload(other, stored_path(still).read_bytes(), "photo")  # the same bytes from another station
    db.session.commit()
    assert evidence.expire_media() == 2
    assert stored_path(twin).exists() and db.session.get(MediaFile, twin.id) is not None


def test_worker_expires_media_at_most_once_an_hour(app, db, tmp_path):
    parcel, still, _ = packed_parcel(tmp_path, packed_days_ago=400)
    path = stored_path(still)
    db.session.commit()  # the worker's own session writes next
    worker = Worker(app)
    assert worker.run_pass()["media_expired"] == 2
    assert not path.exists()
    assert "media_expired" not in worker.run_pass()


def test_evidence_pack_api_and_public_key(app, db, client, tmp_path):
    parcel, still, clip = packed_parcel(tmp_path)
    boss = db.session.execute(select(f.User).where(f.User.username == "boss")).scalar_one()
    picker = f.user("picker", ("picker",))
    db.session.commit()
    parcel_id = parcel.id
    answer = client.get(f"/api/v1/parcels/{parcel_id}/evidence.zip", headers=f.token_for(boss))
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert evidence.verify_pack(answer.data) == []
    assert client.get(f"/api/v1/parcels/{parcel_id}/evidence.zip", headers=f.token_for(picker)).status_code == 403
    missing = client.get("/api/v1/parcels/999999/evidence.zip", headers=f.token_for(boss))
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    key = client.get("/api/v1/evidence/public-key").get_json()
    assert key == {"algorithm": "Ed25519", "pem": evidence.public_key_pem(), "fingerprint": evidence.fingerprint()}
    page = client.get("/evidence/public-key")
    assert page.status_code == 200 and evidence.fingerprint() in page.get_data(as_text=True)
    assert "BEGIN PUBLIC KEY" in page.get_data(as_text=True)


def test_order_page_shows_the_still_the_clip_and_the_pack_link(app, db, client, tmp_path):
    parcel, still, clip = packed_parcel(tmp_path)
    boss = db.session.execute(select(f.User).where(f.User.username == "boss")).scalar_one()
    boss.set_password("pass-word-1")
    db.session.commit()
    assert sign_in_password(client, "boss", "pass-word-1").status_code == 302
    html = client.get(f"/orders/{parcel.order_id}").get_data(as_text=True)
    assert f'<img src="/api/v1/media/{still.id}"' in html
    assert f'<div class="clip-player" data-src="/api/v1/media/{clip.id}"' in html  # MJPG AVI: the page player
    assert f"/api/v1/parcels/{parcel.id}/evidence.zip" in html
    served = client.get(f"/api/v1/media/{clip.id}")
    assert served.status_code == 200 and served.mimetype == "video/x-msvideo"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/api/v1/media/{still.id}").mimetype == "image/jpeg"


def test_cli_verifies_a_pack(app, db, tmp_path):
    parcel, _, _ = packed_parcel(tmp_path)
    pack = tmp_path / "pack.zip"
    pack.write_bytes(evidence.evidence_pack(parcel.id))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["evidence", "verify", str(pack)])
    assert result.exit_code == 0 and result.output.startswith("OK"), result.output
    key = tmp_path / "key.pem"
    key.write_text(evidence.public_key_pem())
    assert runner.invoke(args=["evidence", "verify", str(pack), "--public-key", str(key)]).exit_code == 0
    key.write_text(evidence.public_key_pem(Ed25519PrivateKey.generate().public_key()))
    result = runner.invoke(args=["evidence", "verify", str(pack), "--public-key", str(key)])
    assert result.exit_code == 1 and "FAIL" in result.output
    key.write_text("not a key")
    result = runner.invoke(args=["evidence", "verify", str(pack), "--public-key", str(key)])
    assert result.exit_code == 1 and "not a PEM public key" in result.output


def test_order_page_says_which_media_were_removed(app, db, client, tmp_path):
    parcel, still, clip = packed_parcel(tmp_path, packed_days_ago=365)
    boss = db.session.execute(select(f.User).where(f.User.username == "boss")).scalar_one()
    boss.set_password("pass-word-1")
    db.session.commit()
    order_id, still_id, sha = parcel.order_id, still.id, still.sha256
    assert evidence.expire_media() == 2
    assert sign_in_password(client, "boss", "pass-word-1").status_code == 302
    html = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert f"/api/v1/media/{still_id}" not in html and "clip-player" not in html and "<video" not in html
    assert html.count('class="media-removed"') == 2 and sha in html


def test_key_file_from_the_setting(app, db, tmp_path):
    given = tmp_path / "keys" / "evidence.pem"
    app.config["CELLWMS_EVIDENCE_KEY_FILE"] = str(given)
    fingerprint = evidence.fingerprint()
    assert given.exists() and stat.S_IMODE(os.stat(given).st_mode) == 0o600
    key = Ed25519PrivateKey.generate()
    given.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    assert evidence.fingerprint() != fingerprint
    assert evidence.public_key_pem() == evidence.public_key_pem(key.public_key())


def test_a_stored_file_changed_on_disk_is_caught(db, tmp_path):
    parcel, still, _ = packed_parcel(tmp_path)
    path = stored_path(still)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))  # altered before the pack was made: the signature alone cannot tell
    pack = evidence.evidence_pack(parcel.id)
    media = json.loads(_members(pack)["parcel.json"])["media"]
    assert media[0]["status"] == "differs"
    assert evidence.verify_pack(pack) == [
        "media/still-1.jpg is not the file the station uploaded (its recorded sha256 differs)."]
