"""Work done in order by a thread of its own while the caller makes the next piece.

The join's spill (timelines/spill.py) and the table exporters (export/tabular.py) write
what they are handed here, so that writing overlaps parsing and joining. At most
``ahead`` pieces wait for the thread, which bounds memory; an error of the thread is
raised in the caller, by the next :meth:`WriteBehind.submit` or by :meth:`WriteBehind.wait`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class WriteBehind:
    """One writing thread; pieces are done in the order they are submitted."""

    def __init__(self, ahead: int, name: str) -> None:
        self._ahead = ahead
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: deque[Future[None]] = deque()

    def submit(self, work: Callable[[], None]) -> None:
        """Hand ``work`` over; wait while more than ``ahead`` pieces are not done."""
        self._pending.append(self._pool.submit(work))
        while len(self._pending) > self._ahead:
            self._pending.popleft().result()

    def wait(self) -> None:
        """Wait until every piece handed over is done."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Drop the pieces not started; the one being done is finished first."""
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
