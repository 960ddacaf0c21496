"""Faithful device emulators (pty serial, TCP 9100, synthetic camera) for the demo and the tests."""

import contextlib


@contextlib.contextmanager
def all_running(emulators: dict):
    """Start every emulator of `emulators` (by name) in order and yield them; stop the started
    ones in reverse order at the end, also when one fails to start."""
    started = []
    try:
        for emulator in emulators.values():
            emulator.start()
            started.append(emulator)
        yield emulators
    finally:
        for emulator in reversed(started):
            emulator.stop()
