"""What every device driver does alike: reopen a vanished device with backoff, and hand out
readings from batches until enough are out."""

import time
from collections.abc import Callable, Iterator


def reopen_with_backoff(open_device: Callable[[], object], deadline: float | None,
                        backoff: tuple[float, float], errors: tuple[type[BaseException], ...]) -> int | None:
    """Call `open_device` until it succeeds, waiting backoff[0] seconds and doubling up to
    backoff[1]; the number of tries, or None when `deadline` (monotonic; None: never) passed."""
    delay, tries = backoff[0], 0
    while deadline is None or time.monotonic() < deadline:
        tries += 1
        try:
            open_device()
        except errors:
            time.sleep(delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, backoff[1])
            continue
        return tries
    return None


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
