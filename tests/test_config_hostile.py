"""Hostile rule files and field mappings: bounded time and memory, and exit 2 with one
line naming the file, the line and what is wrong.

A "billion laughs" (anchors of aliases of aliases) is a few hundred bytes that expand
to a billion nodes; it used to be walked whole (3.3 GB, killed). A file over the size
limit is refused before it is read. uniqueItems on items jsonschema cannot sort took
minutes. Every input here is generated.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support import CLEAN, FIXTURES, RULES

from audit.errors import RuleFileError
from audit.limits import DEFAULT_LIMITS, MIB
from audit.marked import MAX_NUMBER_CHARS, Lines, check, load
from audit.rulepack import load_file

MAPPING = FIXTURES / "mappings" / "common-schema.yaml"
ENVELOPES = FIXTURES / "dumps" / "common-schema.jsonl"


def bomb(width: int = 9, levels: int = 10, name: str = "lol", indent: str = "") -> str:
    """Anchors ``name0`` .. ``name{levels-1}``, each a list of ``width`` aliases to the
    one before: ``width ** levels`` nodes once expanded."""
    lines = [f"{indent}{name}0: &{name}0 [{', '.join(['lol'] * width)}]"]
    lines += [f"{indent}{name}{i}: &{name}{i} [{', '.join([f'*{name}{i - 1}'] * width)}]"
              for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def rule_folder(tmp_path: Path, text: str, name: str = "usage.yaml") -> Path:
    """The built-in pack with ``name`` replaced by ``text``."""
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (folder / name).write_text(text, "utf-8")
    return folder


def usage_with(text: str, *, before: str = "rules:\n") -> str:
    """usage.yaml with ``text`` inserted before ``before``."""
    usage = (RULES / "usage.yaml").read_text("utf-8")
    assert before in usage
    return usage.replace(before, text + before, 1)


def assert_names_an_alias(err: str, path: Path) -> None:
    """One line, ``path:LINE``, and LINE is where the alias it names is written."""
    message = err.strip()
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in message and "internal error" not in message, message
    assert "a YAML alias bomb?" in message and "--limit yaml-nodes" in message, message
    where = message.split(f"{path}:", 1)[1]
    line = int(where.split(" ", 1)[0].rstrip(":"))
    alias = message.split("alias ", 1)[1].split(" ", 1)[0]
    assert alias.startswith("*") and alias in path.read_text("utf-8").splitlines()[line - 1]


@pytest.mark.parametrize(("width", "levels"), [(9, 10), (2, 64), (100, 5), (3, 30)])
@pytest.mark.parametrize("where", ["top", "params"])
def test_an_alias_bomb_in_a_rule_file_is_refused_at_its_alias(
    run_cli, tmp_path: Path, width: int, levels: int, where: str
) -> None:
    if where == "top":
        text = bomb(width, levels) + (RULES / "usage.yaml").read_text("utf-8")
    else:
        text = usage_with("    params:\n" + bomb(width, levels, indent="      "),
                          before="    severity: medium\n")
    folder = rule_folder(tmp_path, text)
    started = time.perf_counter()
    for target in (folder / "usage.yaml", folder):
        result = run_cli("rules", "validate", str(target))
        assert result.code == 2
        assert_names_an_alias(result.err, folder / "usage.yaml")
    assert time.perf_counter() - started < 10  # the walk stops at the limit


def test_an_alias_bomb_in_scan_rules_stops_the_scan(run_cli, tmp_path: Path) -> None:
    folder = rule_folder(tmp_path, bomb() + (RULES / "usage.yaml").read_text("utf-8"))
    result = run_cli("scan", str(CLEAN), "--rules", str(folder))
    assert result.code == 2
    assert_names_an_alias(result.err, folder / "usage.yaml")
    assert not (result.out_dir / "report.json").exists()


def test_an_alias_bomb_in_a_mapping_stops_the_scan(run_cli, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(bomb() + MAPPING.read_text("utf-8"), "utf-8")
    result = run_cli("scan", str(ENVELOPES), "--mapping", str(mapping))
    assert result.code == 2
    assert_names_an_alias(result.err, mapping)


def test_the_scan_limit_reaches_rule_files_and_mappings(run_cli, tmp_path: Path) -> None:
    """``--limit yaml-nodes`` of a scan applies to its rule files and its mapping."""
    result = run_cli("scan", str(CLEAN), "--limit", "yaml-nodes=300")
    assert result.code == 2 and "more than 300 YAML nodes (--limit yaml-nodes)" in result.err
    assert ".yaml:" in result.err
    mapping = tmp_path / "mapping.yaml"
    # The limit must let the built-in rule files through (census.yaml is near 10 KB).
    mapping.write_text(MAPPING.read_text("utf-8") + "#\n" * 9000, "utf-8")
    result = run_cli("scan", str(ENVELOPES), "--mapping", str(mapping),
                     "--limit", "config-bytes=16KiB")
    assert result.code == 2 and result.err.strip().endswith(
        f"{mapping}: mapping is too large: {mapping.stat().st_size:,} bytes, over the limit "
        "of 16 KiB (--limit config-bytes)")
    limit = max(_expanded_nodes(p.read_text("utf-8")) for p in RULES.glob("*.yaml"))
    mapping.write_text("constants:\n" + "".join(f"  c{i}: {i}\n" for i in range(limit)),
                       "utf-8")
    result = run_cli("scan", str(ENVELOPES), "--mapping", str(mapping),
                     "--limit", f"yaml-nodes={limit}")
    assert result.code == 2 and result.err.strip().endswith(
        f"{mapping}:{(limit - 1) // 2 + 1}: more than {limit:,} YAML nodes (--limit yaml-nodes)")


def _limited_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("command", ["validate", "scan"])
def test_an_alias_bomb_is_refused_within_a_gibibyte(tmp_path: Path, command: str) -> None:
    """In a process that may not map more than 1 GiB, the bomb is refused cleanly (it
    used to grow to gigabytes before anything was said)."""
    folder = rule_folder(tmp_path, bomb() + (RULES / "usage.yaml").read_text("utf-8"))
    args = (["rules", "validate", str(folder)] if command == "validate" else
            ["scan", str(CLEAN), "--rules", str(folder), "--out", str(tmp_path / "out")])
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True,
                            text=True, preexec_fn=_limited_memory, timeout=120)
    assert result.returncode == 2, result.stderr
    assert_names_an_alias(result.stderr, folder / "usage.yaml")
    assert time.perf_counter() - started < 60


def test_merge_keys_still_work_and_count_what_they_merge(run_cli, tmp_path: Path) -> None:
    """Rules that share keys through ``<<: *anchor`` validate, override what they merge,
    and the merged nodes count towards the limit like any alias."""
    usage = (RULES / "usage.yaml").read_text("utf-8")
    assert usage.endswith("\n") and usage.rindex("\nrules:\n") > usage.rindex("\nfields:\n")
    shared = ("  - &shared\n    id: usage/extra-a\n    title: Extra\n    kind: declared-fields\n"
              "    severity: low\n    message: 'extra field {field}'\n")
    # The merge key last: the last nodes of the file are the ones it merges.
    merged = [f"  - id: usage/extra-{c}\n    severity: high\n    <<: *shared\n" for c in "bcd"]
    text = usage + shared + "".join(merged)
    folder = rule_folder(tmp_path, text)
    pack = load_file(folder / "usage.yaml")
    assert pack.rules["usage/extra-c"].severity.value == "high"
    assert pack.rules["usage/extra-c"].title == "Extra"
    assert pack.rules["usage/extra-b"].line == len(text[: text.index(merged[0])].splitlines()) + 1
    assert run_cli("rules", "validate", str(folder)).code == 0
    nodes = _expanded_nodes(text)
    assert len(yaml.compose(text, Loader=yaml.SafeLoader).value) < nodes
    assert load_file(folder / "usage.yaml", DEFAULT_LIMITS.with_setting(f"yaml-nodes={nodes}"))
    with pytest.raises(RuleFileError, match=r"alias \*shared expands to more than") as err:
        load_file(folder / "usage.yaml", DEFAULT_LIMITS.with_setting(f"yaml-nodes={nodes - 1}"))
    assert err.value.line == len(text.splitlines())


def _expanded_nodes(text: str) -> int:
    """Nodes of a document with every alias expanded, counted on PyYAML's own tree."""
    def count(node: Any) -> int:
        if isinstance(node, yaml.MappingNode):
            return 1 + sum(count(k) + count(v) for k, v in node.value)
        if isinstance(node, yaml.SequenceNode):
            return 1 + sum(count(item) for item in node.value)
        return 1

    return count(yaml.compose(text, Loader=yaml.SafeLoader))


@pytest.mark.parametrize("kind", ["rule file", "mapping"])
def test_an_oversized_configuration_file_is_refused_unread(run_cli, tmp_path: Path,
                                                          kind: str) -> None:
    """One byte over the limit is refused, naming the file and the limit; an 8 GiB file
    (sparse: nothing is written) is refused as fast, so it was never read."""
    for size in (DEFAULT_LIMITS.config_bytes + 1, 8 << 30):
        if kind == "rule file":
            folder = rule_folder(tmp_path, "")
            path = folder / "usage.yaml"
        else:
            path = tmp_path / "mapping.yaml"
        with path.open("wb") as handle:
            handle.write(b"# padding\n" * 100)
            handle.truncate(size)
        started = time.perf_counter()
        if kind == "rule file":
            result = run_cli("rules", "validate", str(folder))
        else:
            result = run_cli("scan", str(ENVELOPES), "--mapping", str(path))
        assert result.code == 2
        assert result.err.strip() == (
            f"telemetry-audit: error: {path}: {kind} is too large: {size:,} bytes, over the "
            "limit of 4 MiB (--limit config-bytes)")
        assert time.perf_counter() - started < 5
        shutil.rmtree(tmp_path / "rules", ignore_errors=True)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_mapping_that_never_ends_is_read_only_to_the_limit(run_cli) -> None:
    result = run_cli("scan", str(ENVELOPES), "--mapping", "/dev/zero",
                     "--limit", "config-bytes=1MiB")
    assert result.code == 2
    assert f"mapping is too large: more than {MIB:,} bytes, over the limit of 1 MiB" in result.err


def test_a_rule_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    usage = (RULES / "usage.yaml").read_text("utf-8")
    filler = "#" * 99 + "\n"
    room = DEFAULT_LIMITS.config_bytes - len(usage.encode())
    text = filler * (room // len(filler)) + "#" * (room % len(filler) - 1) + "\n" + usage
    assert len(text.encode()) == DEFAULT_LIMITS.config_bytes
    folder = rule_folder(tmp_path, text)
    assert load_file(folder / "usage.yaml").categories["usage"]


@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ("description: &a [*a]\n", "alias *a refers to a node that contains it", 1),
        ("x:\n  y: &b {z: [1, *b]}\n", "alias *b refers to a node that contains it", 2),
        ("schema_version: 1" + ":11" * 20_000 + "\n",
         f"a number of more than {MAX_NUMBER_CHARS:,} characters", 1),
        ("title: x\nschema_version: " + "7" * 5000 + "\n",
         f"a number of more than {MAX_NUMBER_CHARS:,} characters", 2),
        ("title: t\nx: " + "[" * 300 + "]" * 300 + "\n", "nested too deeply", 2),
        ("a: 1\n? [k, *k]\n: 2\nk: &k x\n", "found undefined alias", 2),
        ("k: &k [1, 2]\n? *k\n: 2\n", "a key must be a scalar, not sequence", 2),
        ("a: b\nc: d\x01\n", "special characters are not allowed (#x0001)", 2),
    ],
    ids=["self-alias", "nested-self-alias", "sexagesimal", "long-int", "deep", "undefined",
         "sequence-key", "control-character"],
)
def test_other_hostile_yaml_is_one_line_with_its_line(
    run_cli, tmp_path: Path, text: str, needle: str, line: int
) -> None:
    folder = rule_folder(tmp_path, text)
    started = time.perf_counter()
    result = run_cli("rules", "validate", str(folder / "usage.yaml"))
    assert result.code == 2
    message = result.err.strip()
    assert len(message.splitlines()) == 1 and "internal error" not in message, message
    assert needle in message and f"usage.yaml:{line}" in message, message
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ('{"a":\n' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply", 2),
        ('{"title": "x",\n "schema_version": ' + "7" * 5000 + "}",
         f"a number of more than {MAX_NUMBER_CHARS:,} characters", 2),
        ('{"a": 1,\n "a": 2}', "duplicate key 'a'", 2),
    ],
    ids=["deep", "long-int", "duplicate-key"],
)
def test_hostile_json_rule_files(run_cli, tmp_path: Path, text: str, needle: str,
                                 line: int) -> None:
    folder = rule_folder(tmp_path, "")
    (folder / "usage.yaml").unlink()
    (folder / "usage.json").write_text(text, "utf-8")
    result = run_cli("rules", "validate", str(folder / "usage.json"))
    assert result.code == 2
    message = result.err.strip()
    assert len(message.splitlines()) == 1 and "internal error" not in message, message
    assert needle in message and f"usage.json:{line}" in message, message


@pytest.mark.parametrize("item", ["{a: %d}", "[%d]", "%d", "'%d'"])
def test_unique_items_on_many_items_is_linear_and_said_briefly(
    run_cli, tmp_path: Path, item: str
) -> None:
    """uniqueItems on 15,000 items of a kind jsonschema cannot sort (mappings, lists, or
    numbers mixed with text) compared every pair: minutes. The error quotes the list in
    short."""
    items = [item % i for i in range(15_000)]
    if item == "%d":  # numbers and text mixed
        items[::2] = [f"'{i}'" for i in range(0, 15_000, 2)]
    items.append(items[0])  # one duplicate, at the end
    text = usage_with(f"    fields: [{', '.join(items)}]\n", before="    severity: medium\n")
    folder = rule_folder(tmp_path, text)
    started = time.perf_counter()
    result = run_cli("rules", "validate", str(folder / "usage.yaml"))
    assert result.code == 2
    assert time.perf_counter() - started < 30
    message = result.err.strip()
    assert len(message) < 400 and len(message.splitlines()) == 1, message[:500]
    line = text[: text.index("    fields: [")].count("\n") + 1
    assert f"usage.yaml:{line}" in message
    if item == "'%d'":
        assert "has non-unique elements" in message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, -0.0, 2.5])
    | st.sampled_from(["", "a", "1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner,
                                                                max_size=2),
    max_leaves=6,
)


def _json_equal(one: Any, two: Any) -> bool:
    """Equality of JSON values as JSON Schema defines it (and jsonschema's ``equal``):
    1 and 1.0 equal, true and 1 not, arrays item by item, objects by value."""
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(map(_json_equal, one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_json_equal(one[k], two[k]) for k in one)
    numbers = (int, float)
    if isinstance(one, numbers) and isinstance(two, numbers):
        return one == two
    return type(one) is type(two) and one == two


@given(st.lists(json_values, max_size=6))
@settings(max_examples=300, deadline=None)
# jsonschema 4.26 passes this one: its uniq sorts with Python's equality, where true == 1
# inside nested arrays, and then only compares neighbours (the first and last are equal)
@example([[[True, 1, True]], [[True, 1, 1]], [[True, 1, True]]])
def test_unique_items_agrees_with_jsonschema(items: list[Any]) -> None:
    """The linear uniqueItems decides as jsonschema's equality does, pair by pair (1 and
    1.0 equal, true and 1 not, mappings by value); where jsonschema's own sorting
    shortcut calls a list unique, the pairs decide."""
    schema = {"type": "array", "uniqueItems": True}
    expected = not any(_json_equal(items[i], items[j])
                       for i in range(len(items)) for j in range(i + 1, len(items)))
    if not jsonschema.Draft202012Validator(schema).is_valid(items):
        assert not expected  # jsonschema never finds a duplicate the pairs do not
    try:
        check(schema, items, Lines(), "f.yaml", RuleFileError)
    except RuleFileError as exc:
        assert not expected, exc
    else:
        assert expected


documents = st.recursive(
    st.integers(0, 9) | st.text("ab~/ ", max_size=3),
    lambda inner: st.lists(inner, min_size=1, max_size=3)
    | st.dictionaries(st.text("ab~/.", min_size=1, max_size=3), inner, min_size=1,
                      max_size=3),
    max_leaves=12,
)


@given(documents)
@settings(max_examples=200, deadline=None)
def test_every_pointer_maps_to_the_line_of_its_key_or_item(doc: Any) -> None:
    """Block-style YAML writes each member on its own line: the line of a member's pointer
    holds its key, the line of an item's pointer starts with ``-``."""
    text = yaml.safe_dump({"root": doc}, default_flow_style=False)
    data, lines = load(text, "f.yaml", RuleFileError)
    assert data == {"root": doc}
    source = text.splitlines()

    def walk(value: Any, at: str, parents: tuple[int, ...]) -> None:
        line = lines[at]
        assert line == lines.nearest(at + "/nowhere")
        if isinstance(value, dict):
            for key, child in value.items():
                token = key.replace("~", "~0").replace("/", "~1")
                assert f"{key}:" in source[lines[f'{at}/{token}'] - 1] or "'" in \
                    source[lines[f'{at}/{token}'] - 1]
                walk(child, f"{at}/{token}", (*parents, line))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                assert source[lines[f"{at}/{i}"] - 1].lstrip().startswith("-")
                walk(child, f"{at}/{i}", (*parents, line))

    walk(doc, "/root", ())
    assert sorted(lines) == sorted(set(lines)) and "" in lines
    with pytest.raises(KeyError):
        lines["/root/missing/0"]
