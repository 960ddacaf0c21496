"""SKU pictures: one uploaded image per SKU, shown on the pack station's order lines and the admin
SKU page.

An upload is checked by its bytes: a JPEG, PNG or WebP by its magic number, that Pillow decodes
whole (a truncated file is refused), at most MAX_BYTES and MAX_PIXELS. Each upload is its own
file, MEDIA_DIR/skus/<sku id>/<sha256 prefix>-<random>.<ext>, named by the SkuImage row with its
sha256, type and size. A replaced or removed picture's file goes when the change commits; a new
file whose transaction rolls back goes too.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import warnings
from pathlib import Path

from flask import has_request_context, url_for
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy import event

from server.extensions import db
from server.models import Sku, SkuImage, User
from server.models.base import utcnow
from server.services import audit
from server.services.errors import DomainError
from server.services.stations import media_dir

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 16_000_000  # width x height; 4000 x 4000
MAX_SIDE = 10_000
TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
MAX_FILENAME = 200


def sniff_type(head: bytes) -> str | None:
    """The picture type the first bytes show: JPEG (FF D8 FF), PNG (its 8-byte signature) or WebP
    ('RIFF' size 'WEBP'); None for anything else."""
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _refused(detail: str | None = None) -> DomainError:
    return DomainError(422, "picture-refused", _("The file is not a JPEG, PNG or WebP picture."),
                       detail=detail or _("Nothing was stored."))


def check_picture(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of an upload; a DomainError when it is empty, too large,
    not a JPEG/PNG/WebP by its bytes, does not decode whole, or has too many pixels."""
    if not data:
        raise DomainError(422, "picture-empty", _("The file is empty."))
    if len(data) > MAX_BYTES:
        raise picture_too_large()
    content_type = sniff_type(data[:12])
    if content_type is None:
        raise _refused()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if TYPES.get(image.format or "") != content_type:
                    raise _refused()
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise DomainError(422, "picture-too-many-pixels",
                                      _("The picture has too many pixels: at most %(pixels)s million.",
                                        pixels=MAX_PIXELS // 1_000_000),
                                      detail=_("This one is %(width)d x %(height)d.", width=width, height=height),
                                      width=width, height=height)
                image.load()  # decodes every pixel: a truncated or damaged file fails here
    except DomainError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refused(_("The picture is damaged or incomplete.")) from None
    if width < 1 or height < 1:
        raise _refused()
    return content_type, width, height


def picture_too_large() -> DomainError:
    return DomainError(413, "picture-too-large", _("The picture is larger than %(mb)d MB.",
                                                   mb=MAX_BYTES // (1024 * 1024)), limit=MAX_BYTES)


def path_of(image: SkuImage) -> Path:
    return media_dir() / image.stored_name


def _unlink(stored_name: str) -> None:
    (media_dir() / stored_name).unlink(missing_ok=True)


def _when_done(on_commit=None, on_rollback=None) -> None:
    """Run `on_commit` after this transaction commits, else `on_rollback` after it rolls back
    (whichever comes first; files only, the session is not used)."""
    session = db.session()
    done = []

    def committed(_session):
        if not done:
            done.append(True)
            if on_commit:
                on_commit()

    def rolled_back(_session):
        if not done:
            done.append(True)
            if on_rollback:
                on_rollback()

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_rollback", rolled_back, once=True)


def _lock_sku(sku_id: int) -> Sku:
    sku = db.session.get(Sku, sku_id, with_for_update=True, populate_existing=True)
    if sku is None:
        raise DomainError(404, "sku-not-found", _("No SKU with id %(id)s.", id=sku_id))
    return sku


def set_picture(actor: User | None, sku_id: int, data: bytes, filename: str = "", via: str = "api") -> SkuImage:
    """Give the SKU this picture (checked first), replacing the one it had; locks the SKU. The new
    file is written now (removed again if the transaction rolls back), the replaced one is removed
    once it commits. The caller commits. Audited as sku.picture."""
    content_type, width, height = check_picture(data)
    sku = _lock_sku(sku_id)
    sha256 = hashlib.sha256(data).hexdigest()
    stored_name = f"skus/{sku.id}/{sha256[:16]}-{secrets.token_hex(4)}{EXTENSIONS[content_type]}"
    path = media_dir() / stored_name
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    part.write_bytes(data)
    os.replace(part, path)
    image = sku.picture
    replaced = image.stored_name if image is not None else None
    if image is None:
        image = SkuImage(sku_id=sku.id)
        sku.picture = image
    image.sha256, image.size, image.content_type = sha256, len(data), content_type
    image.width, image.height, image.stored_name = width, height, stored_name
    image.filename = "".join(ch for ch in (filename or "") if ch.isprintable())[:MAX_FILENAME]
    image.uploaded_by = actor.id if actor is not None else None
    image.uploaded_at = utcnow()
    db.session.flush()
    _when_done(on_commit=(lambda: _unlink(replaced)) if replaced else None,
               on_rollback=lambda: _unlink(stored_name))
    audit.record(actor, "sku.picture", sku.code, sha256=sha256, size=len(data), type=content_type,
                 width=width, height=height, replaced=bool(replaced), via=via)
    return image


def remove_picture(actor: User | None, sku_id: int, via: str = "api") -> None:
    """Remove the SKU's picture; locks the SKU. Its file goes once the transaction commits.
    404 sku-picture-not-found when it has none. Audited as sku.picture.remove."""
    sku = _lock_sku(sku_id)
    image = sku.picture
    if image is None:
        raise DomainError(404, "sku-picture-not-found", _("SKU %(code)s has no picture.", code=sku.code))
    gone = image.stored_name
    sha256 = image.sha256
    sku.picture = None
    db.session.flush()
    _when_done(on_commit=lambda: _unlink(gone))
    audit.record(actor, "sku.picture.remove", sku.code, sha256=sha256, via=via)


def picture_url(sku: Sku) -> str | None:
    """Where the SKU's picture is served (GET /api/v1/skus/<id>/picture?v=<sha256 prefix>, the
    version so a browser never shows a replaced picture from its cache); None when it has none."""
    image = sku.picture
    if image is None:
        return None
    version = image.sha256[:16]
    if has_request_context():
        return url_for("catalog.SkuPicture", sku_id=sku.id, v=version)
    return f"/api/v1/skus/{sku.id}/picture?v={version}"
