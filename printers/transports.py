"""Printer transports: open a printer by URL, write bytes, read status answers, close.

  tcp://host[:9100]                      raw TCP (JetDirect / port 9100)
  cups://queue                           CUPS raw queue (`lp -d queue -o raw`), sent on close
  usb://04b8:0202                        USB through python-escpos's Usb class (pyusb)
  serial:///dev/ttyUSB0?baud=9600        pyserial (also bytesize, parity, stopbits, rtscts, xonxoff)
  socket://host:port                     pyserial's socket URL (serial over TCP, for tests)
  file:///path, /dev/usb/lp0             a file or device node

`open_transport(url)` gives a `Transport`: `write(data)`, `read(n, timeout)` (bytes, b"" on timeout,
None once the printer closed the connection; only when `can_read`), `close()`. A bad URL is a
`PrinterURLError`; a printer that cannot be reached or a write that fails is a `TransportError`.
"""

import contextlib
import os
import select
import shutil
import socket
import subprocess
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_TIMEOUT = 5.0
SCHEMES = ("tcp", "cups", "usb", "serial", "socket", "file")


class PrinterURLError(ValueError):
    """A printer URL that cannot name a printer."""


class TransportError(OSError):
    """The printer cannot be reached, or the connection failed while writing or reading."""


class Transport:
    can_read = False

    def __init__(self, url: str):
        self.url = url

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, n: int = 256, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
        raise TransportError(f"{self.url}: this transport cannot read printer status")

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<{type(self).__name__} {self.url}>"


def _why(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return error.strerror or str(error) or type(error).__name__


class TcpTransport(Transport):
    can_read = True

    def __init__(self, url: str, host: str, port: int, timeout: float):
        super().__init__(url)
        self.timeout = timeout
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise TransportError(f"cannot connect to printer at {url}: {_why(e)}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes) -> None:
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
        except OSError as e:
            raise TransportError(f"{self.url}: write failed: {_why(e)}") from None

    def read(self, n: int = 256, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
        try:
            self.sock.settimeout(max(timeout, 0.001))
            data = self.sock.recv(n)
        except TimeoutError:
            return b""
        except OSError as e:
            raise TransportError(f"{self.url}: read failed: {_why(e)}") from None
        return data or None

    def close(self) -> None:
        self.sock.close()


class SerialTransport(Transport):
    can_read = True

    def __init__(self, url: str, port: str, settings: dict, timeout: float):
        super().__init__(url)
        import serial

        try:
            self.port = serial.serial_for_url(port, timeout=timeout, write_timeout=timeout, **settings)
        except (serial.SerialException, ValueError) as e:
            raise TransportError(f"cannot open printer at {url}: {e}") from None
        self._error = serial.SerialException

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except (self._error, OSError) as e:
            raise TransportError(f"{self.url}: write failed: {e}") from None

    def read(self, n: int = 256, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
        try:
            self.port.timeout = max(timeout, 0.001)
            first = self.port.read(1)
            if not first:
                return b""
            self.port.timeout = 0  # then whatever else has arrived
            return first + self.port.read(n - 1)
        except (self._error, OSError) as e:
            raise TransportError(f"{self.url}: read failed: {e}") from None

    def close(self) -> None:
        self.port.close()


class FileTransport(Transport):
    """A file (appended to) or a device node such as /dev/usb/lp0 (read when it answers)."""

    def __init__(self, url: str, path: str, timeout: float):
        super().__init__(url)
        self.path = path
        is_device = path.startswith("/dev/")
        try:
            flags = (os.O_RDWR if is_device else os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            self.fd = os.open(path, flags, 0o644)
        except OSError as e:
            if is_device and e.errno in (13, 30):  # no read permission: write only
                try:
                    self.fd = os.open(path, os.O_WRONLY)
                except OSError as e2:
                    raise TransportError(f"cannot open printer at {url}: {_why(e2)}") from None
                is_device = False
            else:
                raise TransportError(f"cannot open printer at {url}: {_why(e)}") from None
        self.can_read = is_device

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as e:
            raise TransportError(f"{self.url}: write failed: {_why(e)}") from None

    def read(self, n: int = 256, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
        if not self.can_read:
            return super().read(n, timeout)
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.fd, n)
        except OSError as e:
            raise TransportError(f"{self.url}: read failed: {_why(e)}") from None

    def close(self) -> None:
        os.close(self.fd)


class CupsTransport(Transport):
    """A CUPS raw queue: the job is collected and handed to `lp -o raw` on close (one CUPS job)."""

    def __init__(self, url: str, queue: str, timeout: float):
        super().__init__(url)
        self.queue, self.timeout = queue, timeout
        self.lp = shutil.which("lp")
        if not self.lp:
            raise TransportError(f"cannot print to {url}: the CUPS client 'lp' is not installed")
        self.buffer = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.buffer += data

    def queues(self) -> list[str]:
        import zebra

        return zebra.Zebra().getqueues()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.buffer:
            return
        try:
            done = subprocess.run([self.lp, "-d", self.queue, "-o", "raw"], input=bytes(self.buffer),
                                  capture_output=True, timeout=max(self.timeout, 10))
        except (OSError, subprocess.TimeoutExpired) as e:
            raise TransportError(f"{self.url}: lp failed: {e}") from None
        if done.returncode:
            message = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
            raise TransportError(f"{self.url}: lp refused the job: {message}")


class UsbTransport(Transport):
    """A USB printer through python-escpos's `Usb` class (pyusb; works for ZPL bytes too)."""

    can_read = True

    def __init__(self, url: str, vendor: int, product: int, timeout: float):
        super().__init__(url)
        try:
            from escpos.printer import Usb
        except ImportError as e:
            raise TransportError(f"cannot open {url}: python-escpos with pyusb is needed ({e})") from None
        self.printer = Usb(vendor, product, timeout=int(timeout * 1000))
        try:
            self.printer.open()
        except Exception as e:  # escpos raises its own errors, pyusb raises USBError / NoBackendError
            raise TransportError(f"cannot open printer at {url}: {e}".replace("\n", " ")) from None

    def write(self, data: bytes) -> None:
        try:
            self.printer.device.write(self.printer.out_ep, data, self.printer.timeout)  # pyusb
        except Exception as e:
            raise TransportError(f"{self.url}: write failed: {e}") from None

    def read(self, n: int = 256, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
        try:
            return bytes(self.printer.device.read(self.printer.in_ep, n, int(timeout * 1000)))
        except Exception as e:
            if "timeout" in str(e).lower() or getattr(e, "errno", None) == 110:
                return b""
            raise TransportError(f"{self.url}: read failed: {e}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.printer.close()


def _serial_settings(url: str, query: str) -> dict:
    known = {"baud": ("baudrate", int), "baudrate": ("baudrate", int), "bytesize": ("bytesize", int),
             "parity": ("parity", str), "stopbits": ("stopbits", float), "rtscts": ("rtscts", _flag),
             "xonxoff": ("xonxoff", _flag), "dsrdtr": ("dsrdtr", _flag)}
    settings = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key not in known:
            raise PrinterURLError(f"{url}: unknown serial setting {key!r} (known: {', '.join(known)})")
        name, kind = known[key]
        try:
            value = kind(values[-1])
        except ValueError:
            raise PrinterURLError(f"{url}: bad value {values[-1]!r} for {key}") from None
        if name == "stopbits" and value == int(value):
            value = int(value)
        if name == "parity":
            value = value.upper()[:1]
        settings[name] = value
    return settings


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on", ""):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def parse_url(url: str) -> tuple[str, dict]:
    """Check a printer URL and return (scheme, parts) without opening anything."""
    if not isinstance(url, str) or not url.strip():
        raise PrinterURLError("printer URL is empty")
    if url.startswith("/"):
        return "file", {"path": url}
    if "://" not in url:
        raise PrinterURLError(f"{url!r} is not a printer URL (expected scheme://..., e.g. tcp://host:9100)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise PrinterURLError(
            f"unknown printer URL scheme {parts.scheme!r} in {url!r} (known: {', '.join(s + '://' for s in SCHEMES)})")
    if scheme in ("tcp", "socket"):
        try:
            port = parts.port
        except ValueError:
            raise PrinterURLError(f"{url}: port must be a number 1-65535") from None
        if not parts.hostname:
            raise PrinterURLError(f"{url}: missing host")
        if scheme == "socket" and port is None:
            raise PrinterURLError(f"{url}: missing port")
        return scheme, {"host": parts.hostname, "port": port or 9100}
    if scheme == "cups":
        queue = unquote(parts.netloc + parts.path).strip("/")
        if not queue or "/" in queue:
            raise PrinterURLError(f"{url}: expected cups://QUEUE")
        return scheme, {"queue": queue}
    if scheme == "usb":
        ids = (parts.netloc or parts.path.strip("/")).split(":")  # the product id is hex, not a port
        try:
            vendor, product = (int(x, 16) for x in ids)
        except ValueError:
            raise PrinterURLError(f"{url}: expected usb://VENDOR:PRODUCT in hex, e.g. usb://04b8:0202") from None
        if not (0 <= vendor <= 0xFFFF and 0 <= product <= 0xFFFF):
            raise PrinterURLError(f"{url}: USB ids are 4 hex digits")
        return scheme, {"vendor": vendor, "product": product}
    if scheme == "serial":
        if parts.netloc or not parts.path:
            raise PrinterURLError(f"{url}: expected serial:///dev/NAME?baud=9600")
        return scheme, {"path": unquote(parts.path), "settings": _serial_settings(url, parts.query)}
    # file
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise PrinterURLError(f"{url}: expected file:///absolute/path")
    return scheme, {"path": unquote(parts.path)}


def open_transport(url: str, timeout: float = DEFAULT_TIMEOUT) -> Transport:
    """Open the printer named by `url`."""
    scheme, p = parse_url(url)
    if scheme == "tcp":
        return TcpTransport(url, p["host"], p["port"], timeout)
    if scheme == "socket":
        return SerialTransport(url, url, {}, timeout)
    if scheme == "serial":
        return SerialTransport(url, p["path"], p["settings"], timeout)
    if scheme == "cups":
        return CupsTransport(url, p["queue"], timeout)
    if scheme == "usb":
        return UsbTransport(url, p["vendor"], p["product"], timeout)
    return FileTransport(url, p["path"], timeout)
