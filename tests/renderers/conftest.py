"""Fixtures shared by the renderer tests (builders live in ``report_factory``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from report_factory import build_report

from audit.model import Report


@pytest.fixture
def report() -> Report:
    return build_report()


@pytest.fixture
def report_factory() -> Callable[..., Report]:
    return build_report
