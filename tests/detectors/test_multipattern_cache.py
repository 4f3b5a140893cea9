"""The compiled catalogue is cached on disk: loaded when valid, rebuilt when not."""

from __future__ import annotations

from pathlib import Path

import hyperscan
import pytest

from audit.detectors import multipattern
from audit.detectors.credentials import SECRET

TOKEN = "ci token ghp_" + "a1B2" * 9


def _found(db: hyperscan.Database) -> list[int]:
    ids: list[int] = []
    db.scan(TOKEN.encode(), match_event_handler=lambda pid, *_: ids.append(pid))
    return ids


def test_second_build_loads_the_cached_database(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(multipattern.CACHE_ENV, str(tmp_path))
    first = multipattern.compiled(SECRET.entries)
    (cached,) = tmp_path.glob("*.hsdb")

    class Refused:
        def __init__(self, *_args: object, **_kwargs: object) -> None:
            raise AssertionError("compiled again although the cache holds the database")

    monkeypatch.setattr(hyperscan, "Database", Refused)
    second = multipattern.compiled(SECRET.entries)
    assert _found(second) == _found(first) != []
    assert cached.exists()


def test_a_corrupt_cache_file_is_compiled_again_and_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(multipattern.CACHE_ENV, str(tmp_path))
    multipattern.compiled(SECRET.entries)
    (cached,) = tmp_path.glob("*.hsdb")
    cached.write_bytes(b"\x00not a database" * 50)
    db = multipattern.compiled(SECRET.entries)
    assert _found(db)
    assert hyperscan.loadb(cached.read_bytes(), hyperscan.HS_MODE_BLOCK) is not None


def test_an_unwritable_cache_is_no_error(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv(multipattern.CACHE_ENV, str(blocker / "cache"))
    assert _found(multipattern.compiled(SECRET.entries))


def test_an_empty_setting_turns_the_cache_off(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(multipattern.CACHE_ENV, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert multipattern.cache_dir() is None
    assert _found(multipattern.compiled(SECRET.entries))
    assert not list(tmp_path.rglob("*.hsdb"))


def test_the_default_cache_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(multipattern.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert multipattern.cache_dir() == tmp_path / "telemetry-audit"
