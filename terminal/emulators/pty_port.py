"""A pty reached through a stable symlink, as a USB serial device under /dev/serial/by-id.

`unplug()` closes the pty and removes the link (the driver sees the port vanish); `replug()`
points the link at a fresh pty, so a driver that reopens the same path finds the device again.
"""

import contextlib
import os
import threading
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, link: Path):
        self.link = Path(link)
        self._lock = threading.Lock()
        self._master = self._slave = None

    @property
    def path(self) -> str:
        return str(self.link)

    @property
    def master(self) -> int | None:
        """The emulator's end, or None while unplugged."""
        with self._lock:
            return self._master

    def open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        tmp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        os.replace(tmp, self.link)
        with self._lock:
            self._master, self._slave = master, slave

    def close(self) -> None:
        with self._lock:
            fds, self._master, self._slave = (self._master, self._slave), None, None
        for fd in fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def unplug(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        self.close()

    replug = open
    remove = unplug
