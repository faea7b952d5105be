"""The layout's rules, checked on the source (README: "Development").

Here so far: every module sits in a known layer, and channel names appear only in channels/,
inbound/parsers/ and config parsing (everything else asks ``channels.policy``). Still to come with
issue 13: SQL only in db/, imports only downward, no private names across packages."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "autopilot_cli"

# Lower layers never import higher ones. Foundation modules sit at the top level of the package.
LAYERS: list[set[str]] = [
    {"errors", "clock", "config", "secrets", "textnorm", "discovery", "__init__", "__main__"},
    {"db"},
    {"inbound", "contacts", "drafting", "gates", "scheduling", "channels"},
    {"decide", "review", "sending", "experiments", "server", "ops"},
    {"cli", "entry"},
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}

SQL = re.compile(r"^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|INDEX|"
                 r"UNIQUE\s+INDEX|VIRTUAL\s+TABLE)\s|BEGIN(\s+IMMEDIATE)?\b|PRAGMA\s|WITH\s+\w+\s+AS\s*\()")
CHANNEL_NAMES = {"whatsapp", "email", "instagram", "linkedin"}


def modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        yield ".".join(rel.parts), path, ast.parse(path.read_text(encoding="utf-8"))


def top(module: str) -> str:
    return module.split(".")[0]


def strings(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            yield node.lineno, text


def test_every_module_belongs_to_a_layer() -> None:
    assert {top(m) for m, _, _ in modules()} <= set(LAYER_OF), "add the new package to LAYERS"


def test_channel_names_appear_only_in_channels_parsers_and_config() -> None:
    # inbound.records: the parsers' output type names the channels an event can have (a test below
    # ties it to the policy table).
    allowed_prefixes = ("channels", "inbound.parsers", "inbound.records", "config")
    found = [f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
             for module, path, tree in modules() if not module.startswith(allowed_prefixes)
             for line, text in strings(tree) if text in CHANNEL_NAMES]
    assert found == [], "channel rules belong in autopilot_cli/channels/policy.py:\n" + "\n".join(found)


def test_the_policy_table_knows_exactly_the_channels_events_can_have() -> None:
    from typing import get_args

    from autopilot_cli.channels.policy import CHANNELS
    from autopilot_cli.inbound.records import Channel

    assert set(get_args(Channel)) == set(CHANNELS)
