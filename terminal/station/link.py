"""The agent's HTTP link to the server (docs/station-protocol.md), stdlib http.client only.

One keep-alive connection per calling thread. `Offline` means try again later (unreachable,
timeout, broken connection, 5xx); `Refused` is a 4xx the agent cannot fix by retrying
(`Unauthorized` for a bad token: stop and say so), except `Conflict` (409: try again later).
"""

import contextlib
import http.client
import json
import os
import socket
import threading
from urllib.parse import urlsplit

API = "/api/v1/stations/me"
CHUNK = 1 << 20  # media bytes per PATCH (the server takes up to 8 MiB)
PROBLEM = "urn:cellwms:problem:"  # the server's problem types: PROBLEM + slug


class LinkError(Exception):
    pass


class Offline(LinkError):
    """Server unreachable, timed out, or answered 5xx: keep queuing, retry later."""


class Refused(LinkError):
    """A 4xx answer: the problem is on our side."""

    def __init__(self, status: int, problem: dict, message: str = ""):
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or ""
        super().__init__(message or f"server answered {status}: {detail}".rstrip(": "))


class Unauthorized(Refused):
    """401/403: the station token is wrong or the station is disabled."""


class Conflict(Refused):
    """409 without an offset to resume from (e.g. the same file announced twice at the same moment):
    nothing is wrong with the request, send it again later."""


class OffsetConflict(Conflict):
    """409 on a media PATCH: the server has `offset` bytes; resume from there."""

    def __init__(self, status, problem, offset: int):
        super().__init__(status, problem)
        self.offset = offset


class ChecksumMismatch(Refused):
    """422 `checksum-mismatch` when the last bytes arrived: the server dropped the file; upload it
    again from 0."""


class MediaTypeRefused(Refused):
    """422 `media-type-refused`: the bytes are not what the file's kind must be (a photo no JPEG, a
    clip no MJPG AVI or MP4). The server stored nothing; sending the same bytes again cannot help."""


class Link:
    def __init__(self, server_url: str, token: str, *, timeout: float = 10.0):
        url = urlsplit(server_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"server URL must be http(s)://host[:port], not {server_url!r}")
        self.server_url = server_url.rstrip("/")
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port
        self._prefix = url.path.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": "cellwms-station"}
        self.timeout = timeout
        self._local = threading.local()
        self._all: set[http.client.HTTPConnection] = set()
        self._all_lock = threading.Lock()

    # plumbing

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=timeout)
            self._local.conn = conn
            with self._all_lock:
                self._all.add(conn)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._all_lock:
                self._all.discard(conn)

    def close(self) -> None:
        """Close every thread's connection (wakes a thread blocked in a long-poll)."""
        with self._all_lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            conn.close()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request; a connection the server closed while idle is reopened once."""
        all_headers = {**self._headers, **(headers or {})}
        for attempt in (1, 2):
            conn = self._connection(timeout or self.timeout)
            reused = conn.sock is not None
            try:
                conn.request(method, self._prefix + path, body=body, headers=all_headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.BadStatusLine) as exc:
                self._drop()
                if reused and attempt == 1:
                    continue
                raise Offline(f"connection to {self.server_url} broken: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:  # refused, timeout, DNS, ...
                self._drop()
                raise Offline(f"cannot reach {self.server_url}: {exc or type(exc).__name__}") from exc
            except AttributeError as exc:  # close() from another thread tore the response down mid-read
                self._drop()
                raise Offline(f"connection to {self.server_url} closed") from exc
            if resp.will_close:
                self._drop()
            if resp.status >= 500:
                raise Offline(f"server error {resp.status} from {self.server_url}")
            return resp.status, resp.headers, data
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, payload=None, *, timeout: float | None = None, ok=(200,)):
        body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, resp_headers, data = self.request(method, path, body, headers, timeout)
        if status not in ok:
            self._refuse(status, data)
        return json.loads(data) if data else {}

    @staticmethod
    def _problem(data: bytes) -> dict:
        try:
            problem = json.loads(data)
        except ValueError:
            return {"detail": data[:200].decode("utf-8", "replace")}
        return problem if isinstance(problem, dict) else {"detail": str(problem)}

    def _refuse(self, status: int, data: bytes):
        problem = self._problem(data)
        if status in (401, 403):
            raise Unauthorized(status, problem, f"the server refused the station token ({status}): "
                               f"{problem.get('detail') or problem.get('title') or 'check --token'}")
        if status == 409:
            raise Conflict(status, problem)
        raise Refused(status, problem)

    # the protocol

    def post_events(self, events: list[dict]) -> list[dict]:
        """Send a batch (in order); returns one outcome per event, in the same order."""
        return self.send_events(events)[0]

    def send_events(self, events: list[dict], *, take_jobs: bool = False) -> tuple[list[dict], list[dict]]:
        """Send a batch; (outcomes, jobs). With `take_jobs` the server answers with the jobs due now
        (those the batch made among them), marked sent as the long-poll marks them."""
        body = {"events": events, "take_jobs": True} if take_jobs else {"events": events}
        answer = self._json("POST", f"{API}/events", body, timeout=max(self.timeout, 30.0))
        return answer.get("outcomes", []), answer.get("jobs") or []

    def poll_jobs(self, wait: float = 25) -> list[dict]:
        """Long-poll for device jobs; [] after `wait` seconds without any."""
        wait = int(min(max(wait, 0), 30))
        return self._json("GET", f"{API}/jobs?wait={wait}", timeout=wait + self.timeout).get("jobs", [])

    def heartbeat(self, body: dict) -> dict:
        return self._json("POST", f"{API}/heartbeat", body)

    def media_create(self, sha256: str, size: int, kind: str, content_type: str, filename: str) -> tuple[int, int]:
        """Announce a file; returns (server id, bytes the server already has)."""
        answer = self._json("POST", f"{API}/media", {
            "sha256": sha256, "size": size, "kind": kind, "content_type": content_type, "filename": filename,
        }, ok=(200, 201))
        return int(answer["id"]), int(answer.get("offset", 0))

    def media_offset(self, media_id: int) -> tuple[int, int | None]:
        """HEAD: (Upload-Offset, Upload-Length)."""
        status, headers, data = self.request("HEAD", f"{API}/media/{media_id}")
        if status != 200:
            self._refuse(status, data)
        length = headers.get("Upload-Length")
        return int(headers.get("Upload-Offset", 0)), int(length) if length is not None else None

    def media_patch(self, media_id: int, offset: int, chunk: bytes) -> int:
        """Send bytes at `offset`; returns the server's new offset."""
        status, headers, data = self.request(
            "PATCH", f"{API}/media/{media_id}", chunk,
            {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
            timeout=max(self.timeout, 60.0),
        )
        if status in (200, 204):
            return int(headers.get("Upload-Offset", offset + len(chunk)))
        problem = self._problem(data)
        if status == 409 and headers.get("Upload-Offset") is not None:
            raise OffsetConflict(status, problem, int(headers["Upload-Offset"]))
        if status == 422 and problem.get("type") == PROBLEM + "media-type-refused":
            why = " ".join(str(problem[key]) for key in ("title", "detail") if problem.get(key))
            raise MediaTypeRefused(status, problem, f"server answered {status} media-type-refused: {why}")
        if status == 422 and problem.get("type") == PROBLEM + "checksum-mismatch":
            raise ChecksumMismatch(status, problem)
        self._refuse(status, data)

    def upload_media(self, path: str, sha256: str, size: int, kind: str, content_type: str, *,
                     progress=None, chunk_size: int = CHUNK,
                     max_restarts: int = 2) -> int:
        """Upload a file until the server has all of it; returns its server id.

        Resumes from the server's offset; starts over when the server finds a checksum mismatch
        (at most `max_restarts` times, then `ChecksumMismatch`). `progress(server_id, offset)` is
        called after every chunk. Raises `Offline` when the link drops and `Conflict` on a 409
        without an offset: call again later; `MediaTypeRefused` when the bytes are refused: do not.
        """
        media_id, offset = self.media_create(sha256, size, kind, content_type, os.path.basename(path))
        if progress:
            progress(media_id, offset)
        restarts = 0
        with open(path, "rb") as f:
            while offset < size:
                f.seek(offset)
                chunk = f.read(min(chunk_size, size - offset))
                if not chunk:
                    raise LinkError(f"{path} is shorter than {size} bytes")
                try:
                    offset = self.media_patch(media_id, offset, chunk)
                except OffsetConflict as conflict:
                    offset = conflict.offset
                except ChecksumMismatch:
                    restarts += 1
                    if restarts > max_restarts:
                        raise
                    offset = 0
                if progress:
                    progress(media_id, offset)
        return media_id
