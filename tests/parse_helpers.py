"""What the payload-parser tests share: loading fixtures and running a parser on any input form."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

from autopilot_cli.inbound._parsers import Limits

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(kind: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / kind / name).read_text())


def run_parser(parse: Callable[[bytes, Limits], Iterator[Any]], data: bytes | dict | str,
               limits: Limits = Limits()) -> list:
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    return list(parse(data, limits))


def parsed_or_refused(parse: Callable[[bytes, Limits], Iterator[Any]], data: bytes) -> list:
    """What a parser makes of arbitrary input: well-formed items, or [] when it refused the whole input.

    The property every parser holds: no exception but InputError, every item one of the
    ParsedItem kinds, and no inbound message with empty text.
    """
    from autopilot_cli.errors import InputError
    from autopilot_cli.inbound import PreferenceUpdate
    from autopilot_cli.inbound._records import Ignored, InboundMessage, Rejected, StatusUpdate

    try:
        items = list(parse(data, Limits(max_message_bytes=2000)))
    except InputError:
        return []
    for item in items:
        assert isinstance(item, (InboundMessage, StatusUpdate, PreferenceUpdate, Ignored, Rejected))
        if isinstance(item, InboundMessage):
            assert item.text.strip()
    return items


# ---------------------------------------------------------------------------
# Hostile inputs: seeded mutation of the real sample payloads (issue 12, H1/H2/H5)
# ---------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "autopilot_cli" / "samples"


def sample_payloads(fmt: str) -> list[bytes]:
    """The real payloads of a format shipped with the project and its tests."""
    if fmt == "jsonl":
        return [(SAMPLES / "events.jsonl").read_bytes()]
    if fmt == "linkedin":
        return [(SAMPLES / "linkedin_events.json").read_bytes()]
    if fmt in ("whatsapp", "instagram"):
        paths = sorted((FIXTURES / fmt).glob("*.json")) + sorted(SAMPLES.glob(f"{fmt}_*.json"))
        return [p.read_bytes() for p in paths]
    emails = sorted((FIXTURES / "email").glob("*.eml")) + sorted(SAMPLES.glob("*.eml"))
    if fmt == "email":
        return [p.read_bytes() for p in emails]
    if fmt == "mbox":
        joined = b"".join(b"From someone@example.com Mon Mar 17 09:00:00 2025\n" + p.read_bytes().rstrip(b"\n")
                          + b"\n\n" for p in emails)
        return [(FIXTURES / "email" / "three.mbox").read_bytes(), joined]
    raise KeyError(fmt)


def _deep(n: int) -> str:
    return "[" * n + "]" * n


# Raw JSON text put in place of one value of a real payload: what the fuzzing found and more.
HOSTILE_JSON_VALUES: tuple[str, ...] = (
    _deep(5000), '{"a":' * 3000 + "1" + "}" * 3000, _deep(150), "9" * 5000, "-" + "9" * 4299, "1e400", "-1e400",
    '"\\ud800"', '"ok \\udfff text"', '"\\ud83d"', "1e20", "-1e20", "253402300800", "-62135596801",
    '"99999999999999999999999999"', '"0"', '"9999-12-31T23:59:59-14:00"', '"0001-01-01T00:00:00+14:00"',
    "0", "-1", "true", "false", "null", "[]", "{}", '""', '" "', "3.5", '"\\u0000"', '"\\u202e\\u200b"',
    '{"id": 1}', "[1, 2, 3]", '[{"id": []}]', '"' + "x" * 5000 + '"', '"' + "é" * 3000 + '"',
)


def _json_paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _json_paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _json_paths(child, (*path, i))
    return out


def _replace_at(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replace_at(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_replace_at(v, rest, new) if i == head else v) for i, v in enumerate(value)]


def _get_at(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


_MARK = "__hostile_value__"


def mutate_json_text(text: str, rng: random.Random) -> str:
    """One JSON document with one value replaced by hostile raw JSON, or a list multiplied."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    paths = _json_paths(doc)
    path = rng.choice(paths)
    node = _get_at(doc, path)
    roll = rng.random()
    if isinstance(node, list) and node and roll < 0.15:
        # Many records in one payload: what is quadratic in the record count shows.
        return json.dumps(_replace_at(doc, path, node * rng.choice((50, 500, 3000))))
    if isinstance(node, dict) and roll < 0.25:
        key = rng.choice(["thread", "id", "from", "timestamp", "createdAt", "text", "type", "x" * 3000, "\ud800"])
        node = {**node, key: _MARK}
        return json.dumps(_replace_at(doc, path, node)).replace(f'"{_MARK}"', rng.choice(HOSTILE_JSON_VALUES))
    return json.dumps(_replace_at(doc, path, _MARK)).replace(f'"{_MARK}"', rng.choice(HOSTILE_JSON_VALUES))


_BYTE_SNIPPETS: tuple[bytes, ...] = (
    b"\x00", b"\xff", b"\xed\xa0\x80", b"\xc3", b"\n", b"\r", b"\r\n", b"\n\n", b"From ", b"{", b"[", b'"', b"\\",
    b"\\ud800", b"<", b">", b"=?utf-8?b?", b"?=", b"=?x-unknown?q?=FF?=", b"--", b"\t", b" ", b"\xe2\x80\xae",
    b":", b";", b"=\n", b"\xf0\x9f\x98", b"9" * 40,
)


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Byte-level damage: flips, hostile snippets, cuts, repeats."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        pos = rng.randint(0, len(out))
        if roll < 0.25 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif roll < 0.55:
            out[pos:pos] = rng.choice(_BYTE_SNIPPETS) * rng.choice((1, 1, 2, 50))
        elif roll < 0.75:
            del out[pos : pos + rng.randint(1, 200)]
        elif roll < 0.9:
            end = min(len(out), pos + rng.randint(1, 120))
            out[pos:pos] = bytes(out[pos:end]) * rng.choice((2, 20, 400))
        else:
            del out[pos:]
    return bytes(out)


def _email_parts(data: bytes) -> tuple[bytes, bytes]:
    head, _sep, body = data.partition(b"\n\n")
    return head, body


def mutate_email(data: bytes, rng: random.Random) -> bytes:
    """Structure-aware damage to one RFC 5322 message."""
    head, body = _email_parts(data)
    choice = rng.randrange(14)
    if choice == 0:  # no Date
        head = b"\n".join(h for h in head.split(b"\n") if not h.lower().startswith(b"date:"))
    elif choice == 1:  # raw 8-bit and encoded surrogates in headers
        head = head.replace(b"Subject: ", b"Subject: \xed\xa0\x80\xff caf\xc3\xa9 ", 1)
        head += b"\nFrom: \xed\xb0\x80 <x\xff@example.com>" if rng.random() < 0.3 else b""
        head = head.replace(b"From: ", b"From: \xc3\xa9\xed\xa0\x80 ", 1)
    elif choice == 2:  # many headers
        head += b"".join(b"\nX-H%d: v" % i for i in range(rng.choice((500, 5000, 20000))))
    elif choice == 3:  # a huge header line
        head += b"\nX-Long: " + b"a" * rng.choice((10_000, 300_000))
    elif choice == 4:  # dates out of range
        date = rng.choice((b"Mon, 1 Jan 0001 00:00:00 +1400", b"Fri, 31 Dec 9999 23:59:59 -1400",
                           b"Mon, 1 Jan 99999999999 00:00:00 +0000", b"32 Foo 2025 99:99:99 +9999"))
        head = b"\n".join(b"Date: " + date if h.lower().startswith(b"date:") else h for h in head.split(b"\n"))
    elif choice == 5:  # deeply nested multipart
        depth = rng.choice((50, 1000, 5000))
        head = b"\n".join(h for h in head.split(b"\n") if not h.lower().startswith((b"content-type", b"mime")))
        head += b'\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"'
        body = b"".join(b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' % (i, i + 1) for i in range(depth))
        body += b"--b%d\nContent-Type: text/plain\n\nhello\n" % depth
    elif choice == 6:  # many parts
        head = b"\n".join(h for h in head.split(b"\n") if not h.lower().startswith((b"content-type", b"mime")))
        head += b'\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"'
        body = b"".join(b"--b\nContent-Type: text/plain\n\npart %d\n" % i for i in range(rng.choice((100, 3000))))
        body += b"--b--\n"
    elif choice == 7:  # a large HTML table, or deep HTML
        head = b"\n".join(h for h in head.split(b"\n") if not h.lower().startswith((b"content-type", b"mime")))
        head += b"\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8"
        n = rng.choice((2000, 20000))
        body = rng.choice((
            b"<table>" + b"<tr><td>a</td><td>b</td></tr>" * n + b"</table>",
            b"<table>" * n + b"x" + b"</td>" * n,
            b"<div>" * n + b"hi" + b"</span>" * n,
            b'<div style="display:none">' * n + b"x",
            b"<!--" + b"a" * n * 10, b"<![" * n, b"<a " + b'x="y" ' * n + b">",
        ))
    elif choice == 8:  # signature and quote markers everywhere
        body = rng.choice((b"--\n", b"-- \n", b"Sent from my phone\nx\n", b"> q\n", b"On Mon, X wrote:\n"))
        body *= rng.choice((100, 20000))
    elif choice == 9:  # broken transfer encodings and charsets
        head += rng.choice((b"\nContent-Transfer-Encoding: base64", b"\nContent-Transfer-Encoding: quoted-printable",
                            b'\nContent-Type: text/plain; charset="idna"', b"\nContent-Type: text/plain; charset*=x''"))
        body = body + b"=\n=FF=ED=A0=80" * rng.choice((1, 1000))
    elif choice == 10:  # many addresses
        head += b"\nTo: " + b", ".join(b"u%d@example.com" % i for i in range(rng.choice((200, 5000))))
    elif choice == 11:  # many Received headers
        head = b"".join(b"Received: from h%d by x; Mon, 17 Mar 2025 09:00:00 +0000\n" % i
                        for i in range(rng.choice((10, 3000)))) + head
    else:
        return mutate_bytes(data, rng)
    return head + b"\n\n" + body


def mutate(fmt: str, data: bytes, rng: random.Random) -> bytes:
    """One hostile variant of a real payload of ``fmt``."""
    roll = rng.random()
    if fmt in ("email", "mbox"):
        if fmt == "mbox":
            chunks = data.split(b"\nFrom ")
            k = rng.randrange(len(chunks))
            chunks[k] = mutate_email(chunks[k], rng) if roll < 0.7 else mutate_bytes(chunks[k], rng)
            out = b"\nFrom ".join(chunks)
            if rng.random() < 0.1:
                out = b"\n\n" + out
            if rng.random() < 0.1:
                out += b"From x Mon Mar 17 09:00:00 2025\n\n" * rng.choice((1000, 30000))
            return out
        return mutate_email(data, rng) if roll < 0.7 else mutate_bytes(data, rng)
    if roll < 0.25:
        return mutate_bytes(data, rng)
    if fmt == "jsonl":
        lines = data.decode().splitlines()
        k = rng.randrange(len(lines))
        lines[k] = mutate_json_text(lines[k], rng)
        return "\n".join(lines).encode("utf-8", "surrogatepass")
    return mutate_json_text(data.decode(), rng).encode("utf-8", "surrogatepass")


def _strings_and_depth(value: Any, depth: int = 0) -> Iterator[tuple[str | None, int]]:
    """Every string (keys too) inside a parsed value, with the nesting depth reached."""
    stack = [(value, depth)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, str):
            yield node, level
        elif isinstance(node, dict):
            yield None, level
            for key, child in node.items():
                stack.append((key, level + 1))
                stack.append((child, level + 1))
        elif isinstance(node, (list, tuple)):
            yield None, level
            stack.extend((child, level + 1) for child in node)


MAX_ITEM_DEPTH = 128
"""Deeper than this, later stages (json.dumps, rich, the drafter) could recurse too far."""


def check_items(items: list) -> None:
    """What every parsed item must be for the rest of the pipeline to take it without
    an unexpected exception: a known kind, text that SQLite and the terminal can take
    (no lone surrogates), nesting that json.dumps can walk, an aware in-range date."""
    from datetime import datetime

    from autopilot_cli.inbound import PreferenceUpdate
    from autopilot_cli.inbound._records import Ignored, InboundMessage, Rejected, StatusUpdate

    for item in items:
        assert isinstance(item, (InboundMessage, StatusUpdate, PreferenceUpdate, Ignored, Rejected)), item
        if isinstance(item, InboundMessage):
            assert item.text.strip(), item
        for name in type(item).model_fields:
            for text, depth in _strings_and_depth(getattr(item, name)):
                assert depth <= MAX_ITEM_DEPTH, f"{type(item).__name__}.{name} nested {depth} deep"
                if text is not None:
                    text.encode("utf-8")  # UnicodeEncodeError: a lone surrogate SQLite cannot store
        for name in ("received_at", "at"):
            when = getattr(item, name, None)
            if isinstance(when, datetime):
                assert when.tzinfo is not None
                assert datetime(1970, 1, 1, tzinfo=UTC) <= when < datetime(2200, 1, 1, tzinfo=UTC)
        json.dumps(getattr(item, "metadata", None), ensure_ascii=False)
        json.dumps(getattr(item, "raw", None), ensure_ascii=False, default=str)
