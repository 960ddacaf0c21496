"""The station's local outbox: one SQLite file (WAL, synchronous=FULL).

An event counts as taken only once its commit is fsync'd. It stays here until the server's answer
lists it. The file also keeps the media files waiting for upload and the jobs the agent ran, so a
job the server sends again is never run twice (a label must not print twice).
"""

import hashlib
import json
import mimetypes
import os
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

INTERRUPTED = {"result": "failed", "detail": "interrupted by an agent restart"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    device TEXT,
    occurred_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
-- Events the server refused as malformed (a bug of ours): set aside, not lost, not blocking.
CREATE TABLE IF NOT EXISTS held (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    device TEXT,
    occurred_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    reason TEXT NOT NULL,
    held_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    server_id INTEGER,
    uploaded INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
-- Media the server refused for their bytes (media-type-refused): never sent again. The file stays
-- where the device wrote it; its media row is done = -1.
CREATE TABLE IF NOT EXISTS media_refused (
    sha256 TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    refused_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('started', 'done')),
    device TEXT,
    result TEXT,
    result_event_id TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
"""

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".avi": "video/x-msvideo", ".mp4": "video/mp4"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def file_digest(path: str) -> tuple[str, int]:
    """(sha256 hex, size) of a file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def content_type(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    return CONTENT_TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


class Outbox:
    """Thread-safe: one connection, one lock; every write is one fsync'd transaction."""

    def __init__(self, path: str, *, recover: bool = True):
        """`recover=False` for a look from outside (a CLI while the agent runs): jobs the agent has
        under way must not be taken for interrupted ones."""
        self.path = str(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        with self._lock:
            self._db.executescript(SCHEMA)
        self.interrupted_jobs = self._recover_jobs() if recover else []

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args=()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # events

    def put(self, kind: str, payload: dict, device: str | None = None, media_path: str | None = None,
            *, occurred_at: str | None = None) -> str:
        """Queue an event durably; returns its event_id.

        With `media_path` the file's sha256 and size go into the payload (`media`, `size`) and the
        file is queued for upload, in the same transaction as the event.
        """
        event_id = str(uuid.uuid4())
        occurred_at = occurred_at or now_iso()
        media_row = None
        if media_path is not None:
            sha, size = file_digest(media_path)
            payload = {**payload, "media": sha, "size": size}
            media_row = (sha, os.path.abspath(media_path), size, kind, content_type(media_path), occurred_at)
        text = json.dumps(payload, separators=(",", ":"))
        with self._write() as db:
            if media_row:
                db.execute(
                    "INSERT OR IGNORE INTO media (sha256, path, size, kind, content_type, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    media_row,
                )
            db.execute(
                "INSERT INTO events (event_id, kind, device, occurred_at, payload) VALUES (?, ?, ?, ?, ?)",
                (event_id, kind, device, occurred_at, text),
            )
        return event_id

    def pending(self, limit: int = 200) -> list[dict]:
        """The oldest waiting events, in the order they were taken."""
        rows = self._read(
            "SELECT seq, event_id, kind, device, occurred_at, payload FROM events ORDER BY seq LIMIT ?", (limit,)
        )
        return [
            {"event_id": e, "seq": s, "kind": k, "device": d, "occurred_at": o, "payload": json.loads(p)}
            for s, e, k, d, o, p in rows
        ]

    def ack(self, event_ids) -> int:
        """Remove the events the server answered; returns how many were removed."""
        ids = [(e,) for e in event_ids]
        if not ids:
            return 0
        with self._write() as db:
            before = db.total_changes
            db.executemany("DELETE FROM events WHERE event_id = ?", ids)
            return db.total_changes - before

    def hold(self, event_id: str, reason: str) -> bool:
        """Set an event the server refuses aside (kept in `held` for an operator), so the events
        behind it go on; returns whether it was waiting."""
        with self._write() as db:
            moved = db.execute(
                "INSERT OR IGNORE INTO held (seq, event_id, kind, device, occurred_at, payload, reason, held_at)"
                " SELECT seq, event_id, kind, device, occurred_at, payload, ?, ? FROM events WHERE event_id = ?",
                (reason[:500], now_iso(), event_id)).rowcount
            db.execute("DELETE FROM events WHERE event_id = ?", (event_id,))
        return bool(moved)

    def held(self) -> int:
        return self._read("SELECT count(*) FROM held")[0][0]

    def held_events(self) -> list[dict]:
        """The events set aside, oldest first, with why."""
        rows = self._read("SELECT seq, event_id, kind, device, occurred_at, payload, reason, held_at FROM held"
                          " ORDER BY seq")
        return [{"seq": s, "event_id": e, "kind": k, "device": d, "occurred_at": o, "payload": json.loads(p),
                 "reason": r, "held_at": h} for s, e, k, d, o, p, r, h in rows]

    def requeue_held(self, event_ids=None) -> int:
        """Put held events (all, or these) back in the queue at their old place; returns how many.
        For after the bug that made the server refuse them is fixed."""
        where, args = ("", ()) if event_ids is None else (
            f" WHERE event_id IN ({','.join('?' * len(event_ids))})", tuple(event_ids))
        with self._write() as db:
            moved = db.execute("INSERT OR IGNORE INTO events (seq, event_id, kind, device, occurred_at, payload)"
                               " SELECT seq, event_id, kind, device, occurred_at, payload FROM held" + where,
                               args).rowcount
            db.execute("DELETE FROM held" + where, args)
        return moved

    def waiting(self) -> tuple[int, str | None]:
        """(events waiting, occurred_at of the oldest)."""
        with self._lock:
            count = self._db.execute("SELECT count(*) FROM events").fetchone()[0]
            row = self._db.execute("SELECT occurred_at FROM events ORDER BY seq LIMIT 1").fetchone()
        return count, row[0] if row else None

    # media

    def media_pending(self) -> list[dict]:
        """Files not yet complete on the server, oldest first."""
        rows = self._read(
            "SELECT sha256, path, size, kind, content_type, server_id, uploaded FROM media"
            " WHERE done = 0 ORDER BY created_at, rowid"
        )
        keys = ("sha256", "path", "size", "kind", "content_type", "server_id", "uploaded")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def media_waiting(self) -> int:
        return self._read("SELECT count(*) FROM media WHERE done = 0")[0][0]

    def set_media_progress(self, sha256: str, *, server_id: int | None = None, uploaded: int | None = None,
                           done: bool | None = None) -> None:
        sets, args = [], []
        for column, value in (("server_id", server_id), ("uploaded", uploaded), ("done", done)):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(int(value))
        if not sets:
            return
        with self._write() as db:
            db.execute(f"UPDATE media SET {', '.join(sets)} WHERE sha256 = ?", (*args, sha256))

    def refuse_media(self, sha256: str, reason: str) -> None:
        """Set a file the server refuses aside: not sent again, its file kept, listed by media_refused()."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO media_refused (sha256, reason, refused_at) VALUES (?, ?, ?)",
                       (sha256, reason[:500], now_iso()))
            db.execute("UPDATE media SET done = -1 WHERE sha256 = ?", (sha256,))

    def media_refused(self, limit: int = 20) -> tuple[int, list[dict]]:
        """(how many files were refused, the latest `limit` of them with why)."""
        count = self._read("SELECT count(*) FROM media_refused")[0][0]
        rows = self._read(
            "SELECT r.sha256, m.path, m.size, m.kind, r.reason, r.refused_at FROM media_refused r"
            " LEFT JOIN media m ON m.sha256 = r.sha256 ORDER BY r.refused_at DESC, r.rowid DESC LIMIT ?", (limit,))
        keys = ("sha256", "path", "size", "kind", "reason", "refused_at")
        return count, [dict(zip(keys, row, strict=True)) for row in rows]

    def media(self, sha256: str) -> dict | None:
        return next((m for m in self._media_rows(sha256)), None)

    def _media_rows(self, sha256: str):
        keys = ("sha256", "path", "size", "kind", "content_type", "server_id", "uploaded", "done")
        rows = self._read(f"SELECT {', '.join(keys)} FROM media WHERE sha256 = ?", (sha256,))
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # jobs

    def _recover_jobs(self) -> list[int]:
        """Jobs started but not finished when the agent died: failed, never run again."""
        with self._write() as db:
            ids = [r[0] for r in db.execute("SELECT job_id FROM jobs WHERE state = 'started' ORDER BY job_id")]
            for job_id in ids:
                device = db.execute("SELECT device FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0]
                self._finish(db, job_id, dict(INTERRUPTED), device)
        return ids

    def job_started(self, job_id: int, device: str | None = None) -> bool:
        """Record a job as started. False when it was seen before: do not run it again."""
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO jobs (job_id, state, device, started_at) VALUES (?, 'started', ?, ?)",
                (job_id, device, now_iso()),
            )
            return cur.rowcount == 1

    def job_done(self, job_id: int, result: dict, device: str | None = None) -> str:
        """Record a job's result and queue its `job_result` event, in one transaction."""
        with self._write() as db:
            return self._finish(db, job_id, result, device)

    def _finish(self, db, job_id: int, result: dict, device: str | None) -> str:
        event_id = str(uuid.uuid4())
        at = now_iso()
        payload = {"job_id": job_id, "detail": "", **result}
        db.execute(
            "INSERT INTO jobs (job_id, state, device, result, result_event_id, started_at, finished_at)"
            " VALUES (?, 'done', ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET state = 'done',"
            " result = excluded.result, result_event_id = excluded.result_event_id, finished_at = excluded.finished_at",
            (job_id, device, json.dumps(result), event_id, at, at),
        )
        db.execute(
            "INSERT INTO events (event_id, kind, device, occurred_at, payload) VALUES (?, 'job_result', ?, ?, ?)",
            (event_id, device, at, json.dumps(payload, separators=(",", ":"))),
        )
        return event_id

    def job_result(self, job_id: int) -> dict | None:
        """The result of a finished job; None if never seen or still running."""
        rows = self._read("SELECT state, result FROM jobs WHERE job_id = ?", (job_id,))
        if not rows or rows[0][0] != "done":
            return None
        return json.loads(rows[0][1])

    def job_resend(self, job_id: int) -> str | None:
        """A finished job sent again: queue its result once more, unless it is still waiting here.

        Returns the new event_id, or None (still running, result still queued, or unknown job).
        """
        with self._write() as db:
            row = db.execute("SELECT state, device, result, result_event_id FROM jobs WHERE job_id = ?",
                             (job_id,)).fetchone()
            if row is None or row[0] != "done":
                return None
            state, device, result, last_event = row
            if db.execute("SELECT 1 FROM events WHERE event_id = ?", (last_event,)).fetchone():
                return None
            return self._finish(db, job_id, json.loads(result), device)
