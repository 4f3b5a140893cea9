"""Decoding before detection: URL-encoding, base64, hex and JSON inside strings.

Example: ``"dT1hbW9zLm1hcmJsZUBjb250b3NvLmNvbQ=="`` expands to
``("u=amos.marble@contoso.com", "base64")`` so the EMAIL detector sees it,
``"%7B%22upn%22%3A%22a%40b.com%22%7D"`` expands through ``url`` then ``json``, and
``"616d6f7340636f6e746f736f2e636f6d"`` to ``("amos@contoso.com", "hex")``.

Why: clients often wrap values (query strings, base64 or hex blobs, JSON in JSON);
detectors only see plain text. Expansion is bounded: at most `max_depth`
layers, inputs and outputs cut to `max_len` characters, base64 and hex accepted
only when they decode to mostly printable UTF-8 (a digest never does), and at most
`MAX_OUTPUTS` results.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from audit.detectors.filters import b64decode_loose, printable_ratio

MAX_OUTPUTS = 16
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,4096}={0,2}")
_HEXISH = re.compile(r"[0-9A-Fa-f-]+")
# A whole token of hex pairs, 8 bytes or more (an optional 0x before it).
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?((?:[0-9A-Fa-f]{2}){8,2048})(?![0-9A-Za-z])")
_JSON_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|[\"\\/bfnrt])")


def _flatten(obj: object, out: list[str], budget: list[int]) -> None:
    """Collect ``key=value`` pairs and strings of a JSON document (bounded)."""
    if budget[0] <= 0:
        return
    budget[0] -= 1
    if isinstance(obj, dict):
        for key, val in obj.items():
            if isinstance(val, (str, int, float)) and not isinstance(val, bool):
                out.append(f"{key}={val}")
            else:
                _flatten(val, out, budget)
    elif isinstance(obj, list):
        for val in obj:
            _flatten(val, out, budget)
    elif isinstance(obj, str):
        out.append(obj)


def _one_layer(text: str, max_len: int) -> list[tuple[str, str]]:
    """Each decoding of `text` one layer deep, as (decoded text, how)."""
    out: list[tuple[str, str]] = []
    if "%" in text and _PCT.search(text):
        decoded = urllib.parse.unquote_plus(text) if "+" in text else urllib.parse.unquote(text)
        if decoded != text:
            out.append((decoded[:max_len], "url"))
    stripped = text.strip()
    if stripped[:1] in "{[" and stripped[-1:] in "}]":
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None
        if doc is not None:
            parts: list[str] = []
            _flatten(doc, parts, [1000])
            if parts:
                out.append(("\n".join(parts)[:max_len], "json"))
    elif "\\" in text and _JSON_ESCAPE.search(text):
        try:
            decoded = json.loads('"' + text.replace('"', '\\"') + '"')
        except ValueError:
            decoded = None
        if isinstance(decoded, str) and decoded != text:
            out.append((decoded[:max_len], "json"))
    for m in _HEX_RUN.finditer(text):
        data = bytes.fromhex(m.group(1))
        if printable_ratio(data) < 0.9:
            continue
        out.append((data.decode("utf-8")[:max_len], "hex"))
        if len(out) >= MAX_OUTPUTS:
            return out
    for m in _B64_RUN.finditer(text):
        run = m.group(0)
        if _HEXISH.fullmatch(run):
            continue  # hex digests and GUIDs: valid base64 alphabet, never readable text
        data = b64decode_loose(run)
        if data is None or len(data) < 8 or printable_ratio(data) < 0.9:
            continue
        out.append((data.decode("utf-8")[:max_len], "base64"))
        if len(out) >= MAX_OUTPUTS:
            break
    return out


def expand(text: str, max_depth: int = 2, max_len: int = 4096) -> list[tuple[str, str]]:
    """Decoded copies of `text` up to `max_depth` layers, with how they were decoded.

    `how` chains layers with ``>``, e.g. ``"url>json"``. Only the first
    `max_len` characters of `text` and of each decoded text are kept.
    """
    results: list[tuple[str, str]] = []
    frontier: list[tuple[str, str]] = [(text[:max_len], "")]
    seen = {text[:max_len]}
    for _ in range(max_depth):
        nxt: list[tuple[str, str]] = []
        for current, path in frontier:
            for decoded, how in _one_layer(current, max_len):
                if decoded in seen:
                    continue
                seen.add(decoded)
                chain = f"{path}>{how}" if path else how
                results.append((decoded, chain))
                nxt.append((decoded, chain))
                if len(results) >= MAX_OUTPUTS:
                    return results
        frontier = nxt
    return results


#: Cheap RE2-compatible test for values worth trying to decode.
# Written without \s and \u escapes so that pandas can run it in RE2.
DECODE_PREFILTER = r"%[0-9A-Fa-f]{2}|[A-Za-z0-9+/_]{16}|[\\]u[0-9A-Fa-f]{4}|^[ \t\r\n\f\v]*[\[{]"
