"""`cellwms worker`: sends the outbox's due webhook deliveries, once a minute tries the postponed
orders whose retry time has passed, and once an hour removes expired parcel media (retention).
Several may run at once (on PostgreSQL they share the work through FOR UPDATE SKIP LOCKED); SIGTERM or Ctrl+C stops one after its current pass."""

import logging
import signal
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from server.extensions import db
from server.models.base import utcnow
from server.services import webhooks

RETRY_DUE_EVERY_S = 60
EXPIRE_MEDIA_EVERY_S = 3600
log = logging.getLogger(__name__)


class Worker:
    """The worker's loop, runnable in a thread (the demo's) or as the command."""

    def __init__(self, app, stop: threading.Event | None = None):
        self.app = app
        self.stop = stop or threading.Event()
        self._last_retry = None
        self._last_expiry = None

    def run_pass(self, now=None) -> dict:
        """One pass: due deliveries, the postponed orders (at most once a minute), expired parcel
        media (at most once an hour)."""
        with self.app.app_context():
            try:
                counts = webhooks.deliver_due(now=now)
                clock = time.monotonic()
                if self._last_retry is None or clock - self._last_retry >= RETRY_DUE_EVERY_S:
                    self._last_retry = clock
                    counts["orders_retried"] = _retry_due_orders(now or utcnow())
                if self._last_expiry is None or clock - self._last_expiry >= EXPIRE_MEDIA_EVERY_S:
                    self._last_expiry = clock
                    counts["media_expired"] = _expire_media(now or utcnow())
                return counts
            finally:
                db.session.remove()

    def run(self) -> None:
        poll = self.app.config["CELLWMS_WORKER_POLL_SECONDS"]
        batch = self.app.config["CELLWMS_WEBHOOK_BATCH"]
        while not self.stop.is_set():
            try:
                counts = self.run_pass()
            except Exception:  # noqa: BLE001 - a lost database must not end the worker; try again
                log.exception("worker pass failed")
                counts = {}
            sent = counts.get("delivered", 0) + counts.get("retry", 0) + counts.get("failed", 0)
            if sent:
                log.info("webhooks: %s", counts)
            if sent < batch:  # a full batch: more may be due at once
                self.stop.wait(poll)


def _retry_due_orders(now) -> int:
    from server.services import reservation

    retried = reservation.retry_due(now)
    db.session.commit()
    return len(retried) if isinstance(retried, list | tuple) else int(retried or 0)


def _expire_media(now) -> int:
    from server.services import evidence

    return evidence.expire_media(now)


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one pass and exit (what is due now).")
@with_appcontext
def worker(once):
    """Send webhook deliveries from the outbox and retry postponed orders (runs until stopped)."""
    app = current_app._get_current_object()
    runner = Worker(app)
    if once:
        counts = runner.run_pass()
        click.echo(" ".join(f"{key}={value}" for key, value in counts.items()))
        return

    def on_signal(_signum, _frame):
        runner.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"cellwms worker running (poll {app.config['CELLWMS_WORKER_POLL_SECONDS']} s); Ctrl+C stops it")
    runner.run()
    click.echo("worker stopped")


commands = [worker]
