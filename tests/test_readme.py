"""The README's Python example is the first code a newcomer copies: it must run as printed."""

from __future__ import annotations

import re
import subprocess
import sys

from support import ROOT


def python_block_after(heading: str) -> str:
    """The first ```python block after the line starting with ``heading``."""
    text = (ROOT / "README.md").read_text("utf-8")
    start = re.search(rf"^{re.escape(heading)}", text, re.MULTILINE)
    assert start, f"README.md has no {heading!r}"
    block = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL).search(
        text, start.end()
    )
    assert block, f"README.md has no python block after {heading!r}"
    return block.group(1)


def test_from_python_example_runs_as_printed() -> None:
    code = python_block_after("From Python")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    # The sample carries violations: the verdict, then the rules that found them.
    assert done.stdout.startswith("verdict: fail\n"), done.stdout
    assert "census/unhashed-user-id" in done.stdout
