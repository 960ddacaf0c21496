"""Evidence of a parcel: its stills and clip, scans and weights in one ZIP whose manifest of sha256
hashes the installation signs (Ed25519); the pack's check; the retention of the media files."""

import hashlib
import io
import json
import os
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from server.extensions import db
from server.models import MediaFile, Order, Parcel, ParcelMedia, Sku, Station, User, Warehouse
from server.models.base import utcnow
from server.services import stations as media_store
from server.services.errors import DomainError

FORMAT = "cellwms-evidence/1"
MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "public-key.pem"
KEY_FILE = "evidence-ed25519.pem"
MEDIA_KINDS = ("still", "clip")
MAX_PACK_BYTES = 2 << 30  # a ZIP to check is read whole: refuse more than this
MAX_MEMBER_BYTES = 1 << 30


# --- the installation's key --------------------------------------------------------------------------

def key_path() -> Path:
    """The private key's file: the CELLWMS_EVIDENCE_KEY_FILE setting, else in the instance folder."""
    given = current_app.config.get("CELLWMS_EVIDENCE_KEY_FILE")
    return Path(given) if given else Path(current_app.instance_path) / KEY_FILE


def signing_key() -> Ed25519PrivateKey:
    """The installation's Ed25519 key, created on first use (the file readable by its owner only)."""
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use that one
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise DomainError(500, "evidence-key-not-ed25519", _("The evidence signing key is not an Ed25519 key."))
    return key


def public_key_pem(key: Ed25519PublicKey | None = None) -> str:
    key = key or signing_key().public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key: Ed25519PublicKey | None = None) -> str:
    """sha256 of the raw 32-byte public key, hex."""
    key = key or signing_key().public_key()
    return hashlib.sha256(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except ValueError:
        raise DomainError(422, "public-key-invalid", _("The public key is not a PEM public key.")) from None
    if not isinstance(key, Ed25519PublicKey):
        raise DomainError(422, "public-key-not-ed25519", _("The public key is not an Ed25519 key."))
    return key


# --- media of a parcel -------------------------------------------------------------------------------

def attach_media(parcel: Parcel, media_file: MediaFile, kind: str, partial: bool = False) -> ParcelMedia:
    """Record `media_file` (a still or the clip) as evidence of `parcel`; the same file again is the
    row already there (its `partial` updated)."""
    if kind not in MEDIA_KINDS:
        raise DomainError(422, "media-kind-unknown", _("Evidence is a still or a clip."))
    row = db.session.execute(select(ParcelMedia).where(
        ParcelMedia.parcel_id == parcel.id, ParcelMedia.media_file_id == media_file.id)).scalar_one_or_none()
    if row is None:
        row = ParcelMedia(parcel_id=parcel.id, media_file_id=media_file.id, kind=kind, sha256=media_file.sha256,
                          partial=partial)
        db.session.add(row)
        db.session.flush()
    else:
        row.partial = partial
    return row


# --- the pack ----------------------------------------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _json(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def _usernames(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def _media_entries(parcel: Parcel) -> tuple[list[dict], dict[str, bytes]]:
    """The media listed in parcel.json and the files to put in the pack."""
    entries, files, counts = [], {}, {}
    for row in parcel.media:
        entry = {"kind": row.kind, "sha256": row.sha256, "partial": row.partial, "recorded_at": _iso(row.created_at),
                 "removed_at": _iso(row.removed_at), "file": None, "status": "removed"}
        media = db.session.get(MediaFile, row.media_file_id) if row.media_file_id else None
        path = media_store.stored_path(media) if media is not None else None
        if row.removed_at is None:
            entry["status"] = "missing"
            if path is not None and media.complete and path.exists():
                data = path.read_bytes()
                counts[row.kind] = counts.get(row.kind, 0) + 1
                extension = media_store.MEDIA_EXTENSIONS.get(media.content_type, ".bin")
                name = f"media/{row.kind}-{counts[row.kind]}{extension}"
                files[name] = data
                entry.update(file=name, content_type=media.content_type, status="present")
                if hashlib.sha256(data).hexdigest() != row.sha256:
                    entry["status"] = "differs"  # the stored file is not the one the station sent
        entries.append(entry)
    return entries, files


def _parcel_files(parcel: Parcel) -> dict[str, bytes]:
    order = db.session.get(Order, parcel.order_id) if parcel.order_id else None
    station = db.session.get(Station, parcel.station_id) if parcel.station_id else None
    items = parcel.items
    skus = dict(db.session.execute(select(Sku.id, Sku.code).where(
        Sku.id.in_({i.sku_id for i in items}))).all()) if items else {}
    users = _usernames([parcel.packer_user_id, parcel.override_user_id, *(i.user_id for i in items)])
    media, files = _media_entries(parcel)
    count = None
    if parcel.order_id:
        count = db.session.execute(select(func.count()).select_from(Parcel)
                                   .where(Parcel.order_id == parcel.order_id)).scalar_one()
    files["parcel.json"] = _json({
        "parcel_id": parcel.id, "code": parcel.code, "sscc": parcel.sscc,
        "order_number": order.number if order else None, "order_id": parcel.order_id,
        "n": parcel.seq, "of": count, "carrier": parcel.carrier, "tracking_number": parcel.tracking_number,
        "station": station.code if station else None, "packer": users.get(parcel.packer_user_id),
        "created_at": _iso(parcel.created_at), "weighed_at": _iso(parcel.weighed_at),
        "packed_at": _iso(parcel.packed_at), "status": parcel.status, "media": media,
    })
    files["scans.json"] = _json([{
        "code": i.code, "sku": skus.get(i.sku_id), "quantity": i.quantity, "lot": i.lot,
        "scanned_at": _iso(i.scanned_at), "packer": users.get(i.user_id), "event_id": i.event_id,
    } for i in items])
    files["weights.json"] = _json({
        "expected_g": parcel.expected_weight_g, "weighed_g": parcel.weight_g, "weighed_at": _iso(parcel.weighed_at),
        "override": {"by": users.get(parcel.override_user_id), "reason": parcel.override_reason}
        if parcel.override_user_id else None,
    })
    return files


def evidence_pack(parcel_id: int, now: datetime | None = None) -> bytes:
    """The parcel's evidence pack (a ZIP): media/*, parcel.json, scans.json, weights.json,
    public-key.pem, manifest.json (every other file's sha256 and size) and manifest.sig (the
    Ed25519 signature of manifest.json's bytes)."""
    parcel = db.session.get(Parcel, parcel_id)
    if parcel is None:
        raise DomainError(404, "parcel-not-found", _("No parcel with id %(id)s.", id=parcel_id))
    key = signing_key()
    files = _parcel_files(parcel)
    files[PUBLIC_KEY] = public_key_pem(key.public_key()).encode()
    manifest = _json({
        "format": FORMAT, "parcel_id": parcel.id, "parcel_code": parcel.code, "made_at": _iso(now or utcnow()),
        "key_fingerprint": fingerprint(key.public_key()),
        "files": [{"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                  for name, data in sorted(files.items())],
    })
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as pack:
        for name, data in sorted(files.items()):
            # Stills and clips are compressed already.
            pack.writestr(name, data, zipfile.ZIP_STORED if name.startswith("media/") else zipfile.ZIP_DEFLATED)
        pack.writestr(MANIFEST, manifest)
        pack.writestr(SIGNATURE, key.sign(manifest))
    return out.getvalue()


def verify_pack(zip_bytes: bytes, public_key: Ed25519PublicKey | bytes | str | None = None) -> list[str]:
    """What is wrong with an evidence pack; empty when every file's hash and size match the manifest,
    the manifest lists every file, and its signature is valid under `public_key` (PEM or a key;
    None: this installation's key)."""
    if isinstance(public_key, bytes | str):
        public_key = load_public_key(public_key)
    key = public_key or signing_key().public_key()
    if len(zip_bytes) > MAX_PACK_BYTES:
        return [_("The file is too large for an evidence pack.")]
    try:
        pack = zipfile.ZipFile(io.BytesIO(zip_bytes))
        names = pack.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return [_("The file is not a ZIP archive.")]
    problems = []
    with pack:
        if len(set(names)) != len(names):
            problems.append(_("The archive holds a file name twice."))
        for needed in (MANIFEST, SIGNATURE):
            if needed not in names:
                problems.append(_("The archive has no %(name)s.", name=needed))
        if problems:
            return problems

        def read(name: str) -> bytes | None:
            info = pack.getinfo(name)
            if info.file_size > MAX_MEMBER_BYTES:
                return None
            try:
                return pack.read(name)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError):  # a changed byte fails the ZIP's CRC
                return None

        manifest_bytes, signature = read(MANIFEST), read(SIGNATURE)
        if manifest_bytes is None or signature is None:
            return [_("The manifest or its signature cannot be read.")]
        try:
            key.verify(signature, manifest_bytes)
        except InvalidSignature:
            problems.append(_("The manifest's signature is not valid for this public key."))
        try:
            manifest = json.loads(manifest_bytes)
            listed = {entry["name"]: entry for entry in manifest["files"]}
            manifest["parcel_id"]
        except (ValueError, KeyError, TypeError):
            return [*problems, _("The manifest is not an evidence manifest.")]
        for name, entry in sorted(listed.items()):
            if name not in names:
                problems.append(_("%(name)s is listed in the manifest but missing.", name=name))
                continue
            data = read(name)
            if data is None:
                problems.append(_("%(name)s cannot be read (damaged).", name=name))
            elif len(data) != entry.get("size") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                problems.append(_("%(name)s does not match its sha256 in the manifest.", name=name))
        for name in names:
            if name not in listed and name not in (MANIFEST, SIGNATURE):
                problems.append(_("%(name)s is not listed in the manifest.", name=name))
        problems += _media_problems(read("parcel.json") if "parcel.json" in names else None, listed)
        if PUBLIC_KEY in listed and PUBLIC_KEY in names:
            enclosed = read(PUBLIC_KEY)
            if enclosed is not None and enclosed.strip() != public_key_pem(key).encode().strip():
                problems.append(_("The enclosed public key is not the one the pack was checked with."))
    return problems


def _media_problems(parcel_json: bytes | None, listed: dict) -> list[str]:
    """A still or clip in the pack that is not the file the station uploaded (its recorded sha256)."""
    try:
        media = json.loads(parcel_json)["media"] if parcel_json else []
    except (ValueError, KeyError, TypeError):
        return [_("parcel.json is not a parcel's record.")]
    problems = []
    for entry in media if isinstance(media, list) else []:
        name = entry.get("file") if isinstance(entry, dict) else None
        if name and (name not in listed or listed[name].get("sha256") != entry.get("sha256")):
            problems.append(_("%(name)s is not the file the station uploaded (its recorded sha256 differs).",
                              name=name))
    return problems


# --- retention ---------------------------------------------------------------------------------------

def expire_media(now: datetime | None = None) -> int:
    """Remove the files of parcel media older than their warehouse's media_retention_days (counted
    from the parcel's packing, else its creation). The ParcelMedia row stays with its sha256 and
    removed_at; the MediaFile row goes; the file goes when no other MediaFile has those bytes.
    Returns how many media expired. Commits."""
    now = now or utcnow()
    expired = 0
    warehouses = db.session.execute(select(Warehouse.id, Warehouse.media_retention_days)).all()
    for warehouse_id, days in warehouses:
        if days is None or days < 0:
            continue
        cutoff = now - timedelta(days=days)
        warehouse_of = func.coalesce(Order.warehouse_id, Station.warehouse_id)
        rows = db.session.execute(
            select(ParcelMedia).join(Parcel, Parcel.id == ParcelMedia.parcel_id)
            .outerjoin(Order, Order.id == Parcel.order_id).outerjoin(Station, Station.id == Parcel.station_id)
            .where(ParcelMedia.removed_at.is_(None), warehouse_of == warehouse_id,
                   func.coalesce(Parcel.packed_at, Parcel.created_at) < cutoff)
            .order_by(ParcelMedia.id)
            .with_for_update(of=ParcelMedia, skip_locked=True)  # another worker's rows are its own
        ).scalars().all()
        for row in rows:
            _expire(row, now)
            expired += 1
        db.session.commit()
    return expired


def _expire(row: ParcelMedia, now: datetime) -> None:
    media = db.session.get(MediaFile, row.media_file_id, with_for_update=True) if row.media_file_id else None
    row.removed_at = now
    row.media_file_id = None
    if media is None:
        return
    # Is the file still another parcel's evidence (not expired), or another station's upload?
    still_used = db.session.execute(select(func.count()).select_from(ParcelMedia).where(
        ParcelMedia.media_file_id == media.id, ParcelMedia.id != row.id, ParcelMedia.removed_at.is_(None))
    ).scalar_one()
    if still_used:
        return
    shared = db.session.execute(select(func.count()).select_from(MediaFile).where(
        MediaFile.sha256 == media.sha256, MediaFile.id != media.id)).scalar_one()
    db.session.flush()  # the ParcelMedia rows no longer name it
    if not shared:
        media_store.stored_path(media).unlink(missing_ok=True)
    db.session.delete(media)
