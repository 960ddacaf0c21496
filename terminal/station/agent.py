"""The station agent: devices -> outbox -> server, and device jobs back.

Threads: uploader (outbox -> events, in order, one batch in flight; the answer brings the jobs the
batch made), media uploader, job poller (long-poll, one worker queue per device so a device's jobs
run in order), heartbeat (every N s
and at once when a device's state changes), and an optional local status endpoint for the
station page ("offline, N events waiting").
"""

import json
import logging
import queue
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from terminal.backoff import Backoff
from terminal.station.link import Conflict, Link, LinkError, MediaTypeRefused, Offline, Refused, Unauthorized
from terminal.station.outbox import Outbox, now_iso

VERSION = "0.1.0"
log = logging.getLogger("cellwms.station")


class Agent:
    def __init__(self, profile, server_url: str, token: str, outbox_path: str, *, devices: dict | None = None,
                 media_dir: str | None = None, status_port: int | None = None, heartbeat_every: float = 10.0,
                 batch_size: int = 200, poll_wait: float = 25.0, backoff: tuple[float, float] = (0.2, 5.0)):
        self.profile = profile
        self.station = profile.name
        self.link = Link(server_url, token)
        self.outbox = Outbox(outbox_path)
        self.devices = devices if devices is not None else profile.build_devices(media_dir)
        self.status_port = status_port
        self.heartbeat_every = heartbeat_every
        self.batch_size = batch_size
        self.poll_wait = poll_wait
        self.backoff_min, self.backoff_max = backoff
        self.online: bool | None = None  # None until the server answered or failed once
        self.offline_reason = ""
        self.fatal: str | None = None
        self.last_prompt: dict | None = None
        self.started_at = now_iso()
        self._stop = threading.Event()
        self._events_ready = threading.Event()
        self._media_ready = threading.Event()
        self._health_changed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queues: dict[str, queue.Queue] = {}
        self._queues_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._status_server: ThreadingHTTPServer | None = None
        self._started = False

    # life cycle

    def start(self) -> None:
        """Start everything; what the outbox already holds goes out first."""
        if self._started:
            return
        self._started = True
        count, oldest = self.outbox.waiting()
        if count:
            log.info("outbox %s: %d events waiting since %s, sending them first", self.outbox.path, count, oldest)
        if self.outbox.interrupted_jobs:
            log.warning("jobs %s were interrupted by a restart: reported failed, not run again",
                        self.outbox.interrupted_jobs)
        if self.status_port is not None:  # 0: any free port (see .status_port after start)
            self._start_status_server()
        for name, target in (("uploader", self._upload_loop), ("media", self._media_loop),
                             ("jobs", self._poll_loop), ("heartbeat", self._heartbeat_loop)):
            self._spawn(f"station-{name}", target)
        for name, device in self.devices.items():
            try:
                device.start(self._emitter(name))
            except Exception as error:  # a device that cannot start must not stop the station
                log.exception("device %s did not start", name)
                self._emitter(name)("device_status", {"state": "down", "detail": f"did not start: {error}",
                                                      "device_kind": getattr(device, "kind", "")})
        log.info("station %s: %d devices, server %s", self.station, len(self.devices), self.link.server_url)

    def request_stop(self) -> None:
        """Safe from a signal handler."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        for name, device in self.devices.items():
            try:
                device.stop()
            except Exception:
                log.exception("device %s did not stop cleanly", name)
        self.link.close()
        for event in (self._events_ready, self._media_ready, self._health_changed):
            event.set()
        with self._queues_lock:
            for q in self._queues.values():
                q.put(None)
        if self._status_server is not None:
            self._status_server.shutdown()
            self._status_server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.link.close()
        if not any(t.is_alive() for t in self._threads):
            self.outbox.close()

    def run(self) -> int:
        """Start (unless started), run until request_stop() (SIGTERM/SIGINT) or a fatal refusal; exit code."""
        self.start()
        try:
            self._stop.wait()
        finally:
            self.stop()
        return 2 if self.fatal else 0

    def _spawn(self, name: str, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _fail(self, message: str) -> None:
        if self.fatal is None:
            self.fatal = message
            log.error("stopping: %s", message)
        self._stop.set()

    def _set_online(self, online: bool, reason: str = "") -> None:
        with self._state_lock:
            was, self.online, self.offline_reason = self.online, online, reason
        if was is not online:
            if online:
                log.info("server %s online", self.link.server_url)
            else:
                count, _ = self.outbox.waiting()
                log.warning("offline (%s): %d events waiting, retrying", reason, count)

    def _backoff(self) -> Backoff:
        """A loop's waits while the server is away: doubling, cut short by stop()."""
        return Backoff((self.backoff_min, self.backoff_max), self._stop)

    # events

    def _emitter(self, device_name: str):
        def emit(kind: str, payload: dict, *, media: str | None = None) -> str:
            event_id = self.outbox.put(kind, payload, device_name, media_path=media)
            self._events_ready.set()
            if media is not None:
                self._media_ready.set()
            if kind == "device_status":
                self._health_changed.set()
            return event_id

        return emit

    def _upload_loop(self) -> None:
        backoff = self._backoff()
        while not self._stop.is_set():
            self._events_ready.clear()
            batch = self.outbox.pending(self.batch_size)
            if not batch:
                self._events_ready.wait(1.0)
                continue
            jobs = []
            try:
                # The answer carries the jobs the batch made (a label to print): they start now, not
                # after the next long-poll. A lost answer: the batch goes again and the server sends
                # those jobs again (or the long-poll does after their lease); run once by job id.
                outcomes, jobs = self.link.send_events(batch, take_jobs=True)
            except Unauthorized as error:
                return self._fail(str(error))
            except Offline as error:
                if self._stop.is_set():
                    return
                self._set_online(False, str(error))
                backoff.wait()
                continue
            except Refused as error:  # the batch's shape: a bug of ours
                log.error("server refused a batch of %d events: %s", len(batch), error)
                outcomes = self._isolate_refused(batch)
                if outcomes is None:
                    continue
            backoff.reset()
            self._set_online(True)
            for job in jobs:
                self._dispatch(job)
            sent = {event["event_id"] for event in batch}
            self.outbox.ack([o["event_id"] for o in outcomes if o.get("event_id") in sent])
            for outcome in outcomes:
                self._prompt(outcome)

    def _isolate_refused(self, batch: list[dict]) -> list[dict] | None:
        """Send a refused batch's events one at a time, in order: each the server refuses again is
        set aside in the outbox's `held` table (kept, logged) and the rest go on. None if the link
        failed meanwhile (the batch is tried again as usual)."""
        outcomes = []
        for event in batch:
            try:
                outcomes += self.link.post_events([event])
            except Refused as error:
                self.outbox.hold(event["event_id"], str(error))
                log.error("event %s (%s) set aside in the outbox's held table: %s",
                          event["event_id"], event["kind"], error)
            except (Offline, Unauthorized):
                return outcomes or None
        return outcomes

    def _prompt(self, outcome: dict) -> None:
        prompt = outcome.get("prompt")
        status = outcome.get("status", "")
        if status == "rejected":
            log.warning("event %s rejected: %s", outcome.get("event_id"), (prompt or {}).get("message", ""))
        if not prompt:
            return
        self.last_prompt = {**prompt, "event_id": outcome.get("event_id"), "status": status}
        if prompt.get("message"):
            log.info("prompt: %s [%s]", prompt["message"], prompt.get("sound", "none"))

    # media

    def _media_loop(self) -> None:
        backoff = self._backoff()
        conflicts: dict[str, tuple[Backoff, float]] = {}  # sha256 -> (its backoff, when to try again)
        while not self._stop.is_set():
            self._media_ready.clear()
            now = time.monotonic()
            files = [m for m in self.outbox.media_pending() if conflicts.get(m["sha256"], (None, 0.0))[1] <= now]
            if not files:
                due = min((at for _, at in conflicts.values()), default=now + 2.0)
                self._media_ready.wait(min(max(due - now, 0.01), 2.0))
                continue
            for media in files:
                if self._stop.is_set():
                    return
                sha = media["sha256"]
                try:
                    self.link.upload_media(
                        media["path"], sha, media["size"], media["kind"], media["content_type"],
                        progress=lambda server_id, offset, sha=sha: self.outbox.set_media_progress(
                            sha, server_id=server_id, uploaded=offset),
                    )
                except Unauthorized as error:
                    return self._fail(str(error))
                except Offline:
                    if self._stop.is_set():
                        return
                    backoff.wait()
                    break
                except Conflict as error:  # passes: this file again later, the others meanwhile
                    retry = conflicts[sha][0] if sha in conflicts else self._backoff()
                    delay = retry.next()
                    conflicts[sha] = (retry, time.monotonic() + delay)
                    log.warning("media %s (%s): %s; trying again in %.1f s", media["path"], sha[:12], error, delay)
                    continue
                except MediaTypeRefused as error:
                    conflicts.pop(sha, None)
                    self.outbox.refuse_media(sha, str(error))
                    log.error("media %s (%s) refused by the server: %s; set aside in the outbox's media_refused"
                              " table, the file kept, not sent again", media["path"], sha[:12], error)
                    continue
                except (Refused, LinkError, OSError) as error:  # file gone, keeps mismatching, ...
                    conflicts.pop(sha, None)
                    log.error("media %s (%s) cannot be uploaded, giving up on it: %s", media["path"], sha[:12], error)
                    self.outbox.set_media_progress(sha, done=-1)
                    continue
                conflicts.pop(sha, None)
                backoff.reset()
                self.outbox.set_media_progress(sha, uploaded=media["size"], done=True)
                log.info("media %s uploaded (%d bytes)", media["path"], media["size"])

    # jobs

    def _poll_loop(self) -> None:
        backoff = self._backoff()
        while not self._stop.is_set():
            try:
                jobs = self.link.poll_jobs(self.poll_wait)
            except Unauthorized as error:
                return self._fail(str(error))
            except Offline as error:
                if self._stop.is_set():
                    return
                self._set_online(False, str(error))
                backoff.wait()
                continue
            except Refused as error:
                log.error("job poll refused: %s", error)
                self._stop.wait(self.backoff_max)
                continue
            backoff.reset()
            self._set_online(True)
            for job in jobs:
                self._dispatch(job)

    def device_for_job(self, job: dict) -> str | None:
        if job.get("device") in self.devices:
            return job["device"]
        name = self.profile.device_for_job(job)
        return name if name in self.devices else None

    def _dispatch(self, job: dict) -> None:
        name = self.device_for_job(job)
        if name is None:
            kind = job.get("kind")
            if kind == "beep":
                result = {"result": "done", "detail": "no device here can beep: logged"}
                log.info("beep %s (no device can beep)", (job.get("payload") or {}).get("sound", ""))
            else:
                result = {"result": "failed", "detail": f"no device on station {self.station} for a {kind} job"}
                log.warning("job %s (%s): %s", job.get("id"), kind, result["detail"])
            self._record_once(job, lambda: result, None)
            return
        with self._queues_lock:
            q = self._queues.get(name)
            if q is None:
                q = self._queues[name] = queue.Queue()
                self._spawn(f"station-job-{name}", self._job_worker, name, q)
        q.put(job)

    def _job_worker(self, name: str, jobs: queue.Queue) -> None:
        device = self.devices[name]
        while (job := jobs.get()) is not None:
            if self._stop.is_set():
                return
            self._record_once(job, lambda job=job: device.run_job(job), name)

    def _record_once(self, job: dict, run, device_name: str | None) -> None:
        """Run a job unless this outbox saw it before; its result goes out as a job_result event."""
        job_id = job["id"]
        if not self.outbox.job_started(job_id, device_name):
            if self.outbox.job_resend(job_id):
                self._events_ready.set()
            log.info("job %s sent again: not run twice", job_id)
            return
        try:
            result = dict(run() or {})
        except Exception as error:
            log.exception("job %s (%s) on %s failed", job_id, job.get("kind"), device_name)
            result = {"result": "failed", "detail": f"{type(error).__name__}: {error}"}
        result.setdefault("result", "done")
        result.setdefault("detail", "")
        result = json.loads(json.dumps(result, default=str))
        self.outbox.job_done(job_id, result, device_name)
        self._events_ready.set()
        log.info("job %s %s on %s: %s %s", job_id, job.get("kind"), device_name, result["result"], result["detail"])

    # health

    def device_health(self) -> dict:
        health = {}
        for name, device in self.devices.items():
            try:
                health[name] = dict(device.health())
            except Exception as error:
                health[name] = {"kind": getattr(device, "kind", ""), "state": "down",
                                "detail": f"health check failed: {error}", "since": None}
        return health

    def heartbeat_body(self) -> dict:
        count, oldest = self.outbox.waiting()
        return {
            "agent": {"version": VERSION, "started_at": self.started_at, "host": socket.gethostname()},
            "devices": self.device_health(),
            "outbox": {"waiting": count, "oldest_at": oldest, "media_waiting": self.outbox.media_waiting()},
        }

    def _heartbeat_loop(self) -> None:
        last_states: dict | None = None
        due = 0.0
        while not self._stop.is_set():
            states = {name: (h.get("state"), h.get("detail")) for name, h in self.device_health().items()}
            if last_states is not None:
                for name, state in states.items():
                    if last_states.get(name) != state:
                        log.info("device %s: %s %s", name, *state)
            if states != last_states or self._health_changed.is_set() or time.monotonic() >= due:
                self._health_changed.clear()
                last_states = states
                due = time.monotonic() + self.heartbeat_every
                try:
                    self.link.heartbeat(self.heartbeat_body())
                    self._set_online(True)
                except Unauthorized as error:
                    return self._fail(str(error))
                except Offline as error:
                    if self._stop.is_set():
                        return
                    self._set_online(False, str(error))
                except Refused as error:
                    log.error("heartbeat refused: %s", error)
            self._health_changed.wait(0.5)

    # local status endpoint

    def status(self) -> dict:
        count, oldest = self.outbox.waiting()
        refused, refused_files = self.outbox.media_refused()
        return {
            "station": self.station,
            "online": bool(self.online),
            "waiting": count,
            "oldest_at": oldest,
            "media_waiting": self.outbox.media_waiting(),
            "held": self.outbox.held(),
            "media_refused": refused,
            "media_refused_files": refused_files,
            "devices": self.device_health(),
            "last_prompt": self.last_prompt,
            "server": self.link.server_url,
            "error": self.fatal or (self.offline_reason if self.online is False else ""),
        }

    # What GET /status answers over HTTP: the link, the queue and the devices; never who works here
    # or what was scanned (the last prompt stays in status() for the agent's own use).
    PUBLIC_STATUS = ("station", "online", "waiting", "oldest_at", "media_waiting", "held", "media_refused",
                     "media_refused_files", "devices", "server", "error")

    def public_status(self) -> dict:
        status = self.status()
        return {key: status[key] for key in self.PUBLIC_STATUS}

    def server_origin(self) -> str:
        """scheme://host[:port] of --server: the only origin whose pages may read /status."""
        url = urlsplit(self.link.server_url)
        return f"{url.scheme}://{url.netloc}".lower()

    def _start_status_server(self) -> None:
        agent = self
        allowed_hosts = {"127.0.0.1", "localhost", "[::1]"}

        class Handler(BaseHTTPRequestHandler):
            def _host_ok(self) -> bool:
                # Another site's page reaching 127.0.0.1 by a name of its own (DNS rebinding) is refused.
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
                return host in allowed_hosts

            def _send(self, code: int, body: bytes = b""):
                self.send_response(code)
                origin = (self.headers.get("Origin") or "").rstrip("/").lower()
                if origin and origin == agent.server_origin():
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
                self.send_header("Vary", "Origin")
                self.send_header("Cache-Control", "no-store")
                if body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self._host_ok():
                    return self._send(403, b'{"error": "forbidden"}')
                if self.path.split("?")[0] != "/status":
                    return self._send(404, b'{"error": "not found"}')
                self._send(200, json.dumps(agent.public_status()).encode())

            def do_OPTIONS(self):
                self._send(204)

            def log_message(self, *args):
                pass

        self._status_server = ThreadingHTTPServer(("127.0.0.1", self.status_port), Handler)
        self._status_server.daemon_threads = True
        self.status_port = self._status_server.server_address[1]
        self._spawn("station-status", self._status_server.serve_forever)
        log.info("status at http://127.0.0.1:%d/status", self.status_port)
