"""Backoff for the station agent: waits that double from `first` up to `most` (tenacity's
`wait_exponential`), for the loops that must also stop on a `threading.Event` (device
supervisors, the agent's uploader and job poller) and restart their backoff after a success.
A plain "call until it works" is a tenacity retry (terminal/devices/reconnect.py).
"""

from __future__ import annotations

import threading

from tenacity import RetryCallState, wait_exponential


def doubling(limits: tuple[float, float]) -> wait_exponential:
    """`first`, 2 x `first`, ... up to `most` seconds, by tenacity's attempt number."""
    first, most = limits
    return wait_exponential(multiplier=first, min=first, max=most)


class Backoff:
    def __init__(self, limits: tuple[float, float], stop: threading.Event | None = None):
        self._delays = doubling(limits)
        self._stop = stop if stop is not None else threading.Event()
        self._state = RetryCallState(None, None, (), {})

    def next(self) -> float:
        """The next wait, in seconds; the one after is twice as long (up to `most`)."""
        delay = self._delays(self._state)
        self._state.attempt_number += 1
        return delay

    def reset(self) -> None:
        self._state.attempt_number = 1

    def wait(self) -> bool:
        """Wait out the next step; True when stopped meanwhile."""
        return self._stop.wait(self.next())
