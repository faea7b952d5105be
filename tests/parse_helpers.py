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
