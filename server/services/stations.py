"""Station operations the scenarios, the API and the pages share: device jobs, heartbeats and
health, and media files (photos, clips) uploaded in resumable chunks.

Nothing here lives in process memory: jobs, health and uploads are rows, so any number of server
workers serve the same stations.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _
from sqlalchemy import select

from server.core.bounds import INT64_MAX
from server.extensions import db
from server.models import JobState, MediaFile, Station, StationJob, User
from server.models.base import utcnow
from server.services.errors import DomainError
from server.services.job_signals import notify_job

JOB_KINDS = ("print", "photo", "record_start", "record_stop", "read_weight", "beep")
JOB_RESULTS = ("done", "printed", "paper_out", "head_open", "failed")
SUCCESS_RESULTS = ("done", "printed")
# A job sent to an agent without a result after this long is sent again (the agent de-duplicates).
JOB_LEASE = timedelta(seconds=60)
# A station whose agent has not called for this long is offline.
OFFLINE_AFTER = timedelta(seconds=30)
MEDIA_KINDS = {"photo": "image/jpeg", "clip": "video/x-msvideo"}  # the type a row has until its bytes say
# What the bytes of each kind may be: a still is a JPEG, a clip an MJPG AVI or an MP4.
MEDIA_TYPES = {"photo": ("image/jpeg",), "clip": ("video/x-msvideo", "video/mp4")}
MEDIA_EXTENSIONS = {"image/jpeg": ".jpg", "video/x-msvideo": ".avi", "video/mp4": ".mp4"}
SNIFF_BYTES = 12
MAX_CHUNK = 8 * 1024 * 1024
# A station's devices by their names in the station profiles (the pack profile's and the demo's).
DEVICE_NAMES = {
    "scanner": _("Scanner"), "scale": _("Scale"), "label_printer": _("Label printer"),
    "receipt_printer": _("Receipt printer"), "printer": _("Printer"), "overhead": _("Overhead camera"),
    "packing": _("Packing camera"), "overhead_camera": _("Overhead camera"), "packing_camera": _("Packing camera"),
    "camera": _("Camera"),
}
# The problems a device reports by name in its health detail (comma-separated), as a worker reads them.
DEVICE_PROBLEMS = {
    "paper_out": _("out of paper: load paper, the waiting label then prints"),
    "head_open": _("print head open: close it, the waiting label then prints"),
    "paused": _("paused: press the printer's pause key"),
    "ribbon_out": _("ribbon out"),
    "offline": _("offline"),
    "error": _("printer error"),
    "cutter_error": _("cutter error"),
    "unrecoverable_error": _("printer fault: switch it off and on"),
    "over_temperature": _("print head too hot: wait"),
    "no_answer": _("does not answer"),
    "overload": _("over the scale's capacity: take the load off"),
    "no_frames": _("stopped sending pictures: check its cable and power"),
    "not_settling": _("the weight does not settle: keep the parcel still, clear of the platform's edges"),
}


def device_problem_text(detail: str) -> str:
    """A device's health detail in the reader's language: known problem names translated, the
    rest (the agent's own words, e.g. an OS error) as it came."""
    parts = [part.strip() for part in (detail or "").split(",")]
    if not all(part in DEVICE_PROBLEMS for part in parts):
        return detail
    if len(parts) > 1:  # a printer pauses itself when out of paper or opened: the cause is what to fix
        parts = [part for part in parts if part != "paused"]
    return ", ".join(str(DEVICE_PROBLEMS[part]) for part in parts)


# --- jobs -----------------------------------------------------------------------------------


def create_job(station: Station, kind: str, payload: dict, *, device: str | None = None,
               event_id: str | None = None, user: User | None = None) -> StationJob:
    if kind not in JOB_KINDS:
        raise DomainError(422, "unknown-job-kind", _("Unknown job kind %(kind)s.", kind=repr(kind)),
                          detail=_("One of %(kinds)s.", kinds=", ".join(JOB_KINDS)))
    if kind == "print" and not isinstance(payload.get("template"), str):
        raise DomainError(422, "template-required", _("A print job needs a template name."))
    job = StationJob(station_id=station.id, kind=kind, device=device, payload=payload, state=JobState.queued,
                     attempts=0, detail={}, created_by_event=event_id,
                     created_by_user_id=user.id if user is not None else None)
    db.session.add(job)
    db.session.flush()
    notify_job(station.id)
    return job


PACK_DOCUMENTS = ("shipping-label", "packing-slip")  # what a pack station prints per parcel


def reprint_document(station: Station, job_id, user: User | None) -> StationJob:
    """A label or slip that did not print (paper out past the agent's wait, head open, failed),
    queued again with the same data and printer; once per failed job (its row locked)."""
    if not isinstance(job_id, int) or isinstance(job_id, bool) or not 0 < job_id <= INT64_MAX:
        raise DomainError(422, "bad-job", _("Choose a document that did not print."))
    failed = db.session.get(StationJob, job_id, with_for_update=True, populate_existing=True)
    if (failed is None or failed.station_id != station.id or failed.kind != "print"
            or (failed.payload or {}).get("template") not in PACK_DOCUMENTS):
        raise DomainError(404, "job-not-found", _("No such label or slip at this station."))
    if failed.state != JobState.failed:
        raise DomainError(409, "job-not-failed",
                          _("This document printed or is still printing: nothing to print again."))
    if (failed.detail or {}).get("reprinted_by"):
        raise DomainError(409, "job-reprinted", _("This document was already sent to print again."))
    job = create_job(station, "print", dict(failed.payload), device=failed.device, user=user)
    failed.detail = {**(failed.detail or {}), "reprinted_by": job.id}
    return job


def claim_jobs(station: Station, limit: int = 20, *, again_for: list[str] | tuple = ()) -> list[StationJob]:
    """Jobs to send now: queued ones, and sent ones whose lease ran out, oldest first. Marks them sent.

    `again_for`: event ids the agent sent again (its answer was lost); the sent jobs those events
    created are sent again at once too, without waiting for their lease (the agent de-duplicates)."""
    now = utcnow()
    resend = StationJob.sent_at < now - JOB_LEASE
    if again_for:
        resend = resend | StationJob.created_by_event.in_(list(again_for))
    due = (StationJob.state == JobState.queued) | ((StationJob.state == JobState.sent) & resend)
    query = (select(StationJob).where(StationJob.station_id == station.id, due)
             .order_by(StationJob.id).limit(limit).with_for_update(skip_locked=True))
    jobs = list(db.session.execute(query).scalars())
    for job in jobs:
        job.state, job.sent_at, job.attempts = JobState.sent, now, job.attempts + 1
    return jobs


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 with its offset (stored times come back aware UTC)."""
    return value.isoformat() if value is not None else None


def job_json(job: StationJob) -> dict:
    return {"id": job.id, "kind": job.kind, "device": job.device, "payload": job.payload, "state": job.state,
            "attempts": job.attempts, "result": job.result, "detail": job.detail,
            "created_at": iso_utc(job.created_at), "sent_at": iso_utc(job.sent_at),
            "finished_at": iso_utc(job.finished_at)}


def record_job_result(station: Station, result: dict) -> StationJob | None:
    """Apply a job_result event; the first result of a job wins (a re-sent result changes nothing)."""
    job = db.session.get(StationJob, result["job_id"])
    if job is None or job.station_id != station.id:
        return None
    if job.state in (JobState.done, JobState.failed):
        return job
    job.result = result["result"]
    job.state = JobState.done if result["result"] in SUCCESS_RESULTS else JobState.failed
    job.detail = {k: v for k, v in result.items() if k not in ("job_id", "result")}
    job.finished_at = utcnow()
    return job


# --- heartbeat and health -------------------------------------------------------------------


def record_heartbeat(station: Station, body: dict) -> None:
    now = utcnow()
    station.heartbeat_at = station.last_seen_at = now
    station.health = {"agent": body.get("agent") or {}, "devices": body.get("devices") or {},
                      "outbox": body.get("outbox") or {}}


def station_health(station: Station, now=None) -> dict:
    """ok, degraded (a device is not up) or offline (no heartbeat lately), with the details."""
    now = now or utcnow()
    health = station.health or {}
    devices = health.get("devices") or {}
    seen = station.heartbeat_at
    if seen is None or now - seen > OFFLINE_AFTER:
        state = "offline"
    elif any((d or {}).get("state") != "up" for d in devices.values()):
        state = "degraded"
    else:
        state = "ok"
    return {"station_id": station.id, "code": station.code, "name": station.name, "kind": station.kind,
            "emulated": bool(station.emulated), "state": state, "heartbeat_at": seen.isoformat() if seen else None, "devices": devices,
            "outbox": health.get("outbox") or {}, "agent": health.get("agent") or {}}


# --- media ----------------------------------------------------------------------------------


def sniff_media_type(head: bytes) -> str | None:
    """The media type the first bytes of a file show: JPEG (FF D8 FF), AVI ('RIFF' size 'AVI ') or
    MP4 (an 'ftyp' box first); None for anything else."""
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None


def verified_type(kind: str, head: bytes) -> str | None:
    """The type of a file of `kind` whose bytes start with `head`, if the kind may be that."""
    found = sniff_media_type(head)
    return found if found in MEDIA_TYPES.get(kind, ()) else None


def _refuse_type(kind: str) -> DomainError:
    return DomainError(422, "media-type-refused",
                       _("The file's bytes are not a %(what)s.",
                         what=_("JPEG photo") if kind == "photo" else _("MJPG AVI or MP4 clip")),
                       detail=_("Nothing was stored."), offset=0)


def media_dir() -> Path:
    return Path(current_app.config["MEDIA_DIR"])


def _find_media(station: Station, sha256: str) -> MediaFile | None:
    return db.session.execute(
        select(MediaFile).where(MediaFile.station_id == station.id, MediaFile.sha256 == sha256)
    ).scalar_one_or_none()


def expect_media(station: Station, payload: dict, kind: str, event_id: str | None) -> MediaFile:
    """The media row an event names; created pending if the upload has not started yet."""
    media = _find_media(station, payload["media"])
    if media is None:
        media = MediaFile(station_id=station.id, sha256=payload["media"], size=payload["size"], kind=kind,
                          content_type=MEDIA_KINDS[kind], received=0, complete=False)
        db.session.add(media)
    if event_id and not media.event_id:
        media.event_id = event_id
    return media


def open_upload(station: Station, sha256: str, size: int, kind: str, content_type: str | None = None,
                filename: str = "") -> tuple[MediaFile, bool]:
    """(media, created). The same file again answers with what has arrived so far.

    `content_type` is what the agent believes and is not stored: the type is the kind's until
    the last byte arrives, then the one the bytes show (`verified_type`)."""
    del content_type
    media = _find_media(station, sha256)
    if media is not None:
        if media.size != size:
            raise DomainError(409, "media-size-differs", _("This checksum was announced with another size."),
                              detail=_("Announced %(size)s bytes, now %(now)s.", size=media.size, now=size))
        media.filename = media.filename or filename
        return media, False
    media = MediaFile(station_id=station.id, sha256=sha256, size=size, kind=kind,
                      content_type=MEDIA_KINDS[kind], filename=filename, received=0, complete=False)
    db.session.add(media)
    db.session.flush()
    return media, True


def _partial_path(media: MediaFile) -> Path:
    return media_dir() / "partial" / f"{media.station_id}-{media.sha256}.part"


def stored_path(media: MediaFile) -> Path:
    return media_dir() / media.sha256[:2] / media.sha256


def reconcile(media: MediaFile) -> int:
    """Bytes received so far, as the partial file on disk says (a discarded file means 0)."""
    if not media.complete and media.received:
        partial = _partial_path(media)
        on_disk = partial.stat().st_size if partial.exists() else 0
        if on_disk < media.received:
            media.received = on_disk
    return media.size if media.complete else media.received


def write_chunk(media: MediaFile, offset: int, chunk: bytes) -> int:
    """Append `chunk` at `offset`; returns the new offset. A wrong offset is 409 with the right one;
    the last chunk checks the sha256 (422 and start again on a mismatch)."""
    if media.complete:
        return media.size
    reconcile(media)
    if offset != media.received:
        raise DomainError(409, "upload-offset", _("The upload continues from another offset."),
                          detail=_("Expected offset %(offset)s.", offset=media.received), offset=media.received)
    if len(chunk) > MAX_CHUNK:
        raise DomainError(413, "chunk-too-large", _("Send at most %(max)s bytes per request.", max=MAX_CHUNK))
    if offset + len(chunk) > media.size:
        raise DomainError(422, "upload-too-long", _("More bytes than the announced size."),
                          detail=_("Announced %(size)s bytes.", size=media.size))
    if offset == 0 and (len(chunk) >= SNIFF_BYTES or len(chunk) == media.size) \
            and verified_type(media.kind, chunk[:SNIFF_BYTES]) is None:
        raise _refuse_type(media.kind)  # refused before a byte is written
    partial = _partial_path(media)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "r+b" if partial.exists() else "wb") as out:
        out.truncate(offset)  # bytes past `received` belong to a request that did not commit
        out.seek(offset)
        out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    media.received = offset + len(chunk)
    if media.received == media.size:
        _finish(media, partial)
    return media.received


def _finish(media: MediaFile, partial: Path) -> None:
    digest = hashlib.sha256()
    with open(partial, "rb") as part:
        head = part.read(SNIFF_BYTES)
        digest.update(head)
        for block in iter(lambda: part.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != media.sha256:
        partial.unlink(missing_ok=True)  # the next request finds no file and starts from 0
        raise DomainError(422, "checksum-mismatch", _("The file's bytes do not match its sha256; send it again."),
                          offset=0)
    content_type = verified_type(media.kind, head)
    if content_type is None:
        partial.unlink(missing_ok=True)
        raise _refuse_type(media.kind)
    media.content_type = content_type
    target = stored_path(media)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)
    media.complete, media.completed_at = True, utcnow()
