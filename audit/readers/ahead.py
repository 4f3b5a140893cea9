"""Reading the next batch in a thread while the rules check this one.

pyarrow parses JSON Lines, CSV and Parquet with the GIL released, so on a machine with a
core to spare a scan in one process need not wait for its reader. The reader works on
the next batch only once the caller has taken the one before: besides the batch being
checked, at most ``depth`` batches are in memory, never more as the file grows.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of ``items``, produced in a thread at most ``depth`` ahead of this caller.

    An error raised while producing an item is raised here, in place of that item, so
    the caller sees the same errors in the same order as without the thread. Closing
    this iterator (or leaving its loop by an error) stops the thread after the item it
    is producing, and closes ``items`` there.
    """
    ready: queue.SimpleQueue[tuple[object, BaseException | None]] = queue.SimpleQueue()
    credits = threading.Semaphore(depth)  # one per item the reader may produce ahead
    stop = threading.Event()

    def produce() -> None:
        try:
            while True:
                credits.acquire()
                if stop.is_set():
                    return
                item = next(items, _END)
                ready.put((item, None))
                if item is _END:
                    return
        except BaseException as exc:  # handed to the caller, raised there
            ready.put((_END, exc))
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
            credits.release()  # the reader starts on the next item while this one is used
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        credits.release()  # wakes a reader waiting for a credit, to see the stop
        thread.join()
