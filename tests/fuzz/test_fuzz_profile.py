"""The fuzz targets of ``harness.py`` with a small profile, so every CI run tries some
hostile input on every reader, the ledger, identities, mappings, rule files and the CLI
(the full runs, 10,000 examples per target, are a script: ``python tests/fuzz/harness.py``)."""

from __future__ import annotations

import pytest
from harness import TARGETS, run_target

#: Examples per target in CI: enough to reach every strategy's branches now and then.
PROFILE = 30


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_keeps_its_promises(name: str) -> None:
    result = run_target(name, PROFILE)
    assert result["result"] == "ok", result["error"]
    assert result["examples"] >= PROFILE // 2
