"""Terminal output: rich for people, plain JSON for programs.

Untrusted text (messages, drafts, provider errors, file names) goes through
``safe()`` before rich sees it: rich markup such as ``[bold]APPROVED[/]`` or
``[link=…]`` is escaped and ANSI escapes / control characters are replaced,
so a customer cannot restyle or spoof the operator's screen.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: object) -> str:
    """Untrusted text made inert for rich: control characters shown as '�', markup escaped."""
    return escape(_CONTROL.sub("\ufffd", str(text)))


def console(stderr: bool = False) -> Console:
    # highlight=False: rich's auto-highlighting would colour numbers inside
    # customer text, which reads as emphasis the customer did not write.
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def is_interactive() -> bool:
    return sys.stdout.isatty()
