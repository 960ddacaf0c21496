"""What the ZPL and ESC/POS printer emulators share: a TCP listener on 127.0.0.1 (one thread per
connection), an optional pty serial port, the printed jobs, and the fault controls.

Faults: `set_paper(False)` (paper out / paper end), `open_head()` (ZPL head up, ESC/POS cover
open), `pause()`, `go_slow(bytes_per_second)`, `drop_after(n)` (the next connection is cut after
n more bytes). While not ready the printer keeps receiving and buffers complete jobs, as real
Zebra and Epson printers do; the buffered jobs print when it is ready again.
"""

import contextlib
import os
import select
import socket
import struct
import threading
import time
import tty
from dataclasses import dataclass


@dataclass
class PrintedJob:
    index: int
    data: bytes
    labels: int = 1
    complete: bool = True  # False: a receipt cut off by a dropped connection (torn off)
    printed_at: float = 0.0
    first_byte: tuple[float, float] | None = None  # (time.time(), time.monotonic()) its first byte arrived


class PrinterEmulator:
    kind = "printer"

    def __init__(self, profile=None, host: str = "127.0.0.1", port: int = 0):
        self.profile = profile
        self.host, self.port = host, port
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.jobs: list[PrintedJob] = []
        self.pending: list[tuple] = []  # (data, labels, first byte): complete jobs waiting for the printer to be ready
        self.label_count = 0
        self.paper = True
        self.head_open = False
        self.paused = False
        self.bytes_per_second: float | None = None
        self._drop_after: int | None = None
        self.connections = 0
        self.first_bytes: list[tuple[float, float]] = []  # per TCP connection: (time.time(), time.monotonic())
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: socket.socket | None = None
        self._pty: tuple[int, int] | None = None
        self.on_print = None  # callback(job) for the CLI

    # ---- life cycle ----
    def start(self, tcp: bool = True, serial: bool = False):
        if tcp:
            self._server = socket.create_server((self.host, self.port))
            self.port = self._server.getsockname()[1]
            self._spawn(self._accept_loop)
        if serial:
            master, slave = os.openpty()
            tty.setraw(slave)
            self._pty = (master, slave)
            self._spawn(self._pty_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._server:
            self._server.close()
        if self._pty:
            for fd in self._pty:
                os.close(fd)
            self._pty = None

    def __enter__(self):
        return self.start() if not self._threads else self

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def serial_path(self) -> str | None:
        return os.ttyname(self._pty[1]) if self._pty else None

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"{self.kind}-emulator")
        thread.start()
        self._threads.append(thread)

    # ---- faults ----
    def set_paper(self, present: bool) -> None:
        with self.lock:
            self.paper = present
            self._print_pending()

    def open_head(self) -> None:
        with self.lock:
            self.head_open = True

    def close_head(self) -> None:
        with self.lock:
            self.head_open = False
            self._print_pending()

    def pause(self) -> None:
        with self.lock:
            self.paused = True

    def resume(self) -> None:
        with self.lock:
            self.paused = False
            self._print_pending()

    def go_slow(self, bytes_per_second: float | None) -> None:
        self.bytes_per_second = bytes_per_second

    def drop_after(self, nbytes: int) -> None:
        """Cut the current or next connection after it has received `nbytes` more bytes."""
        self._drop_after = nbytes

    # ---- state ----
    @property
    def ready(self) -> bool:
        return self.paper and not self.head_open and not self.paused

    def complete_jobs(self) -> list[PrintedJob]:
        with self.lock:
            return [job for job in self.jobs if job.complete]

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[PrintedJob]:
        """Wait until `count` complete jobs are printed (or the timeout); returns them."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.complete_jobs()) < count and time.monotonic() < deadline:
                self.changed.wait(timeout=max(0.0, deadline - time.monotonic()))
            return self.complete_jobs()

    def _job_done(self, data: bytes, labels: int = 1, complete: bool = True,
                  first_byte: tuple[float, float] | None = None) -> None:
        with self.lock:
            if complete and not self.ready:
                self.pending.append((data, labels, first_byte))
            else:
                self._print(data, labels, complete, first_byte)

    def _print(self, data: bytes, labels: int, complete: bool, first_byte: tuple[float, float] | None = None) -> None:
        job = PrintedJob(len(self.jobs), data, labels, complete, time.time(), first_byte)
        self.jobs.append(job)
        if complete:
            self.label_count += labels
        self.changed.notify_all()
        if self.on_print:
            self.on_print(job)

    def _print_pending(self) -> None:
        while self.pending and self.ready:
            data, labels, first_byte = self.pending.pop(0)
            self._print(data, labels, True, first_byte)
        self.changed.notify_all()

    # ---- protocol (subclasses) ----
    def new_session(self):
        raise NotImplementedError

    def feed(self, session, data: bytes, reply) -> None:
        raise NotImplementedError

    def end_session(self, session, dropped: bool) -> None:
        pass

    def received(self, session, first: bool) -> None:
        """Bytes arrived on `session` (before they are fed): the time of a connection's first byte
        goes to `first_bytes`; subclasses stamp jobs with it."""
        if first:
            with self.lock:
                self.first_bytes.append((time.time(), time.monotonic()))

    # ---- I/O ----
    def _chunk(self) -> tuple[int, float]:
        rate = self.bytes_per_second
        if not rate:
            return 65536, 0.0
        size = max(1, int(rate * 0.02))
        return size, size / rate

    def _accept_loop(self) -> None:
        self._server.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        session = self.new_session()
        dropped = False
        got_any = False

        def reply(data: bytes) -> None:
            with contextlib.suppress(OSError):
                conn.sendall(data)

        conn.settimeout(0.1)
        try:
            while not self._stop.is_set():
                size, pause = self._chunk()
                limit = self._drop_after
                if limit is not None:
                    size = min(size, limit)
                    if limit == 0:
                        self._drop_after = None
                        dropped = True
                        break
                try:
                    data = conn.recv(size)
                except TimeoutError:
                    continue
                except OSError:
                    dropped = True
                    break
                if not data:
                    break
                self.received(session, first=not got_any)
                got_any = True
                if self._drop_after is not None:
                    self._drop_after -= len(data)
                self.feed(session, data, reply)
                if pause:
                    time.sleep(pause)
        finally:
            self.end_session(session, dropped)
            if dropped:  # RST, not FIN: the sender sees the connection fail
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def _pty_loop(self) -> None:
        master = self._pty[0]
        session = self.new_session()

        def reply(data: bytes) -> None:
            os.write(master, data)

        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                self.idle(session)
                continue
            size, pause = self._chunk()
            try:
                data = os.read(master, size)
            except OSError:
                return
            self.feed(session, data, reply)
            if pause:
                time.sleep(pause)

    def idle(self, session) -> None:
        """Called on a quiet serial line (no data for 0.1 s)."""
