"""What the payload-parser tests share: loading fixtures and running a parser on any input form."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from autopilot_cli.parsers import Limits

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
    from autopilot_cli.events import Ignored, InboundMessage, PreferenceUpdate, Rejected, StatusUpdate

    try:
        items = list(parse(data, Limits(max_message_bytes=2000)))
    except InputError:
        return []
    for item in items:
        assert isinstance(item, (InboundMessage, StatusUpdate, PreferenceUpdate, Ignored, Rejected))
        if isinstance(item, InboundMessage):
            assert item.text.strip()
    return items
