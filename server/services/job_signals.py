"""Wake a station's job long-poll as soon as a job is queued for it.

On PostgreSQL `create_job` marks the station, and NOTIFY on JOB_CHANNEL with the station id goes
once per transaction before it commits (delivered when it commits); one LISTEN connection per server process hears it and wakes that process's
long-polls for the station. It is only a hint: the long-poll still reads its jobs from the
database, and looks every few seconds anyway, so a lost notification only delays a job. On
SQLite (one process, no NOTIFY) long-polls simply look every POLL_S seconds.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from sqlalchemy import event, text
from tenacity import RetryError, Retrying, retry_if_exception_type, wait_exponential

from server.extensions import db

JOB_CHANNEL = "cellwms_station_jobs"
POLL_S = 0.2  # SQLite: how often a long-poll looks
SAFETY_POLL_S = 5.0  # PostgreSQL: how often a long-poll looks without a notification
log = logging.getLogger("cellwms.stations")


_TO_NOTIFY = "cellwms_jobs_to_notify"  # db.session.info: station ids with a job made in this transaction


def notify_job(station_id: int) -> None:
    """Tell every server process that `station_id` has a new job (sent at commit). One NOTIFY per
    station and transaction, however many jobs it made: the listener only needs to hear one."""
    if db.engine.dialect.name == "postgresql":
        db.session.info.setdefault(_TO_NOTIFY, set()).add(station_id)


@event.listens_for(db.session, "before_commit")
def _send_notifications(session) -> None:
    # Also before a savepoint is released: a NOTIFY sent there goes out when the whole
    # transaction commits, and is dropped with it on a rollback, as its jobs are.
    stations = session.info.pop(_TO_NOTIFY, None)
    for station_id in sorted(stations or ()):
        session.execute(text("SELECT pg_notify(:channel, :station)"),
                        {"channel": JOB_CHANNEL, "station": str(station_id)})


@event.listens_for(db.session, "after_transaction_end")
def _forget_notifications(session, transaction) -> None:
    if transaction.parent is None:  # the whole transaction ended (rolled back: its jobs are gone)
        session.info.pop(_TO_NOTIFY, None)


class JobSignals:
    """One LISTEN connection and the long-polls of this process that wait on it."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self._lock = threading.Lock()
        self._waiting: dict[int, set[threading.Event]] = {}
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()
        self._stopped = threading.Event()

    @contextlib.contextmanager
    def waiter(self, station_id: int):
        """Register before looking at the database, so a job queued in between is not missed."""
        self._start()
        woken = threading.Event()
        with self._lock:
            self._waiting.setdefault(station_id, set()).add(woken)
        try:
            yield woken
        finally:
            with self._lock:
                waiters = self._waiting.get(station_id)
                if waiters is not None:
                    waiters.discard(woken)
                    if not waiters:
                        del self._waiting[station_id]

    def stop(self) -> None:
        """Stop listening (within a second): the database is going away."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _start(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return  # long-polls look every SAFETY_POLL_S seconds by themselves
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._listen, name="job-signals", daemon=True)
                self._thread.start()

    def _wake(self, station_id: int) -> None:
        with self._lock:
            for woken in self._waiting.get(station_id, ()):
                woken.set()

    def _listen(self) -> None:
        # Back off (tenacity) while the database cannot be reached; a connection that listened
        # and then dropped starts a fresh backoff.
        while not self._stopped.is_set():
            with contextlib.suppress(RetryError):
                Retrying(retry=retry_if_exception_type(Exception), before_sleep=self._not_listening,
                         wait=wait_exponential(multiplier=0.5, min=0.5, max=10.0),
                         stop=lambda _state: self._stopped.is_set(), sleep=self._stopped.wait)(self._listen_once)

    def _listen_once(self) -> None:
        """LISTEN until the connection fails (the database restarted, the network dropped)."""
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            connection.execute(f"LISTEN {JOB_CHANNEL}")
            self.listening.set()
            try:
                while not self._stopped.is_set():
                    for note in connection.notifies(timeout=1.0):
                        with contextlib.suppress(ValueError):
                            self._wake(int(note.payload))
            except Exception as error:  # noqa: BLE001 - listen again at once
                log.warning("job notifications: %s; listening again", error)
            finally:
                self.listening.clear()

    @staticmethod
    def _not_listening(state) -> None:
        log.warning("job notifications: %s; listening again in %.1f s",
                    state.outcome.exception(), state.next_action.sleep)


_LISTENERS: dict[str, JobSignals] = {}  # one per database this process serves
_LISTENERS_LOCK = threading.Lock()


def signals() -> JobSignals | None:
    """This process's JobSignals for the app's PostgreSQL database, else None."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return None
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with _LISTENERS_LOCK:
        return _LISTENERS.setdefault(conninfo, JobSignals(conninfo))


def stop_listeners() -> None:
    """Stop every listener of this process (before its database is dropped)."""
    with _LISTENERS_LOCK:
        listeners = list(_LISTENERS.values())
        _LISTENERS.clear()
    for listener in listeners:
        listener.stop()
