"""Fixtures shared by the detector tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def _finishes_quickly(find: Callable[[str], object], text: str, limit: float = 1.0) -> None:
    start = time.perf_counter()
    find(text)
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"took {elapsed:.2f}s on a crafted {len(text)}-char input"


@pytest.fixture
def assert_fast() -> Callable[..., None]:
    """ReDoS guard: `assert_fast(find, text)` fails if one call takes a second or more.

    The secret catalogue's Hyperscan database is compiled (or loaded) first: that happens
    once per process, so a guard run on its own (``-k crafted0``) would time it instead of
    the search."""
    from audit.detectors.credentials import warm

    warm()
    return _finishes_quickly
