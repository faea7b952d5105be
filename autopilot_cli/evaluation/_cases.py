"""Labelled cases for ``autopilot eval``: one JSON object per line.

    {"text": "how much is shipping?", "channel": "whatsapp", "expected": "auto", "tags": ["typo"], "entry": 2}

``expected`` is what a careful person would want: ``auto`` (send the knowledge file's answer on its
own), ``review`` (a person answers), ``opt_out``, ``opt_in`` or ``help``. ``channel`` defaults to
WhatsApp; ``entry`` (optional, for ``auto``) is the knowledge file entry — or entries — whose answer
is the right one, so that an automatic reply with another entry's answer counts as a wrong send.
Other keys are ignored (a case file may carry notes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..channels.policy import CHANNELS, DEFAULT_CHANNEL
from ..errors import InputError

Label = Literal["auto", "review", "opt_out", "opt_in", "help"]
LABELS: tuple[str, ...] = ("auto", "review", "opt_out", "opt_in", "help")


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, max_length=100_000)
    channel: str = DEFAULT_CHANNEL
    expected: Label
    tags: list[str] = Field(default_factory=list)
    entry: int | list[int] | None = None
    line: int = 0
    """Where the case is in its file (1-based), for the list of misjudged cases."""

    def entries(self) -> set[int]:
        if self.entry is None:
            return set()
        return {self.entry} if isinstance(self.entry, int) else set(self.entry)


def parse_cases(data: bytes, source: str) -> list[EvalCase]:
    """The cases of a JSONL file; InputError names the first bad line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source} is not UTF-8 text") from None
    cases = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise InputError(f"{source}:{number}: expected an object with text and expected")
        try:
            case = EvalCase.model_validate({**raw, "line": number})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "case"
            raise InputError(f"{source}:{number}: '{where}': {err['msg']}") from None
        if case.channel not in CHANNELS:
            raise InputError(f"{source}:{number}: unknown channel {case.channel!r}; one of {', '.join(CHANNELS)}")
        cases.append(case)
    if not cases:
        raise InputError(f"{source} has no cases")
    return cases


def load_cases(path: Path) -> list[EvalCase]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"cases file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"cases file is a directory: {path}") from None
    return parse_cases(data, str(path))
