"""Reading the next batch in a thread while the rules check this one.

pyarrow parses JSON Lines, CSV and Parquet with the GIL released, so on a machine with a
core to spare a scan in one process need not wait for its reader. At most ``depth``
batches wait, so memory grows by a batch or two, never with the file.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
_POLL = 0.05  # seconds a blocked hand-over waits before looking whether the reader must stop


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of ``items``, produced in a thread up to ``depth`` ahead of this caller.

    An error raised while producing an item is raised here, in place of that item, so
    the caller sees the same errors in the same order as without the thread. Closing
    this iterator (or leaving its loop by an error) stops the thread after the item it
    is producing, and closes ``items`` there.
    """
    ready: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def hand_over(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over((item, None)):
                    return
            hand_over((_END, None))
        except BaseException as exc:  # handed to the caller, raised there
            hand_over((_END, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
