"""Row selection for ``when``/``unless``: typed, so ``crash: true`` never matches 1."""

from __future__ import annotations

import pandas as pd

from audit.selectors import applicable, select_rows


def test_boolean_selector_on_a_boolean_column() -> None:
    events = pd.DataFrame({"crash": [True, False, None], "client": ["meetings_app"] * 3})
    assert select_rows(events, {"crash": (True,)}).tolist() == [True, False, False]


def test_boolean_selector_does_not_match_numbers() -> None:
    events = pd.DataFrame({"crash": pd.Series([True, 1, 1.0, "true"], dtype=object)})
    assert select_rows(events, {"crash": (True,)}).tolist() == [True, False, False, False]


def test_missing_field_matches_nothing_and_unless_excludes() -> None:
    events = pd.DataFrame({"client": ["meetings_app", "meetings_app", "desktop"],
                           "platform": ["windows", "web", "windows"]})
    assert not select_rows(events, {"pool": ("p",)}).any()
    chosen = applicable(events, {"client": ("meetings_app",)},
                        {"client": ("meetings_app",), "platform": ("windows",)})
    assert chosen.tolist() == [False, True, False]


def test_describe_says_selectors_in_words() -> None:
    from audit.selectors import describe

    assert describe(None, None) == ""
    assert describe({"client": ("desktop", "mobile")}, None) == "client desktop or mobile"
    assert describe({"client": ("meetings_app",), "crash": (True,)},
                    {"platform": ("windows",)}) == \
        "client meetings_app and crash true, unless platform windows"
