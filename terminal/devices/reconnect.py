"""What every device driver does alike: reopen a vanished device with backoff (tenacity), and
hand out readings from batches until enough are out."""

import time
from collections.abc import Callable, Iterator

from tenacity import RetryError, Retrying, retry_if_exception_type

from terminal.backoff import doubling


def reopen_with_backoff(open_device: Callable[[], object], deadline: float | None,
                        backoff: tuple[float, float], errors: tuple[type[BaseException], ...]) -> int | None:
    """Call `open_device` until it succeeds, waiting backoff[0] seconds and doubling up to
    backoff[1] (never past `deadline`); the number of tries, or None when `deadline` (monotonic;
    None: never) passed."""
    delays = doubling(backoff)

    def wait(state) -> float:
        delay = delays(state)
        return delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))

    def past_deadline(state) -> bool:
        return deadline is not None and time.monotonic() >= deadline

    retrying = Retrying(retry=retry_if_exception_type(errors), wait=wait, stop=past_deadline)
    try:
        retrying(open_device)
    except RetryError:
        return None
    return retrying.statistics["attempt_number"]


def take(read_batch: Callable[[float | None], list], count: int | None, timeout: float | None) -> Iterator:
    """Items of successive `read_batch(timeout)` batches until `count` are out (None: no limit)
    or a batch comes back empty."""
    n = 0
    while count is None or n < count:
        batch = read_batch(timeout)
        if not batch:
            return
        for item in batch:
            yield item
            n += 1
            if count is not None and n >= count:
                return
