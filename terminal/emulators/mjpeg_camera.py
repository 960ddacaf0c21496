"""A network (IP) camera on 127.0.0.1: MJPEG over HTTP, as most IP cameras serve it.

`GET /video.mjpg` answers `multipart/x-mixed-replace; boundary=frame`, one JPEG part per frame at
`fps`; `GET /snapshot.jpg` one JPEG. Frames come from `SyntheticCamera` playing the scripted
packing scene (barcodes at angles) in a loop. OpenCV reads it with
`cv2.VideoCapture("http://127.0.0.1:PORT/video.mjpg")` (FFmpeg's mpjpeg demuxer).

Faults: `unplug()` drops every connection (RST) and closes the listener, so new connections are
refused (a camera whose cable was pulled); `replug()` listens on the same port again.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

from terminal.devices.camera import encode_jpeg
from terminal.emulators.camera import SyntheticCamera, scene

BOUNDARY = b"frame"
PATHS = (b"/video.mjpg", b"/video", b"/")


class MjpegCameraEmulator:
    def __init__(self, width: int = 640, height: int = 360, fps: float = 15, port: int = 0,
                 host: str = "127.0.0.1", quality: int = 80):
        self.width, self.height, self.fps = width, height, float(fps)
        self.host, self.port = host, port
        self.quality = quality
        self.camera = SyntheticCamera(width, height, noise=3.0)
        self.frames_made = 0           # frames rendered since start
        self.frames_sent = 0           # multipart frames written to clients (all clients)
        self.connections = 0
        self._jpeg = b""
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._server: socket.socket | None = None
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.plugged = False

    # ---- life cycle ----
    def start(self):
        self._render()                 # a first frame before anyone connects
        self._listen()
        self._spawn(self._frames)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.unplug()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/video.mjpg"

    @property
    def snapshot_url(self) -> str:
        return f"http://{self.host}:{self.port}/snapshot.jpg"

    # ---- faults ----
    def unplug(self) -> None:
        with self._lock:
            self.plugged = False
            server, self._server = self._server, None
            clients, self._clients = self._clients, set()
        if server is not None:
            server.close()
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def replug(self) -> None:
        if not self.plugged:
            self._listen()

    # ---- inside ----
    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="mjpeg-camera")
        thread.start()
        self._threads.append(thread)

    def _listen(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.host, self.port))
        server.listen(16)
        self.port = server.getsockname()[1]
        with self._lock:
            self._server, self.plugged = server, True
        self._spawn(self._accept, server)

    def _render(self) -> None:
        shots = scene()
        symbols = shots[self.frames_made % len(shots)]
        jpeg = encode_jpeg(self.camera.frame(symbols), self.quality)
        with self._cond:
            self._jpeg = jpeg
            self.frames_made += 1
            self._cond.notify_all()

    def _frames(self) -> None:
        period = 1.0 / self.fps
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += period
            self._render()
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _accept(self, server: socket.socket) -> None:
        server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:            # closed by unplug()
                return
            with self._lock:
                if self._server is not server:
                    conn.close()
                    return
                self._clients.add(conn)
            self.connections += 1
            self._spawn(self._serve, conn)

    def _next_frame(self, seen: int) -> tuple[int, bytes]:
        with self._cond:
            while self.frames_made == seen and not self._stop.is_set():
                self._cond.wait(0.5)
            return self.frames_made, self._jpeg

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 8192:
                chunk = conn.recv(1024)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ", 2)[1].split(b"?")[0] if request.count(b" ") >= 2 else b""
            if path == b"/snapshot.jpg":
                _, jpeg = self._next_frame(-1)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n" % len(jpeg) + jpeg)
                return
            if path not in PATHS:
                conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\n"
                         b"Content-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY + b"\r\n\r\n")
            seen = -1
            while not self._stop.is_set():
                seen, jpeg = self._next_frame(seen)
                conn.sendall(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                             % len(jpeg) + jpeg + b"\r\n")
                self.frames_sent += 1
        except OSError:
            pass                       # the client went away, or unplug() cut it
        finally:
            with self._lock:
                self._clients.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()


def main(port: int, width: int = 640, height: int = 360, fps: float = 15, say=print) -> None:
    """Serve until interrupted (for `cellwms emulate camera --mjpeg PORT`)."""
    camera = MjpegCameraEmulator(width, height, fps, port=port).start()
    say(f"MJPEG camera {width}x{height} @ {fps:g} fps: {camera.url} (snapshot: {camera.snapshot_url})")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        camera.stop()
