"""The layout's rules, checked on the source (README: "Development").

Checked: every module sits in a known layer; a package imports only its own layer or lower ones
(foundation ← db ← domain packages ← workflows ← cli); no private name crosses a package; channel
names appear only in channels/, inbound/_parsers/ and config parsing (everything else asks
``channels.policy``); SQL only in db/; each domain package keeps its modules private (a leading
underscore) behind the public surface its ``__init__`` names, and importing a package loads none of
them until a name is used."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "autopilot_cli"

# Lower layers never import higher ones. Foundation modules sit at the top level of the package.
LAYERS: list[set[str]] = [
    {"errors", "clock", "config", "secrets", "textnorm", "placeholders", "discovery", "lazy"},
    {"db"},
    {"inbound", "contacts", "drafting", "gates", "scheduling", "channels", "calibration"},
    {"decide", "review", "sending", "experiments", "server", "ops", "evaluation"},
    {"cli", "entry", "__main__", "__init__"},  # __init__: the library API over all of them
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}
# Pure modules that config validation reads, held to the foundation's rule (they import nothing of
# ours above it, which this test checks like any other): the channel policy table, and the schedule
# rules' parsers (days, hours, do-not-disturb) with the time-zone lookup they use.
MODULE_LAYER = {"channels.policy": 0, "scheduling.rules": 0, "scheduling.timezones": 0}

# Known upward imports; the list may only shrink: an entry that no longer occurs fails the test too.
KNOWN_UPWARD_IMPORTS: set[str] = set()


def layer_of(module: str) -> int:
    for prefix, layer in MODULE_LAYER.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return LAYER_OF.get(top(module), 0)

SQL = re.compile(r"^\s*(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|"
                 r"CREATE\s+(TABLE|INDEX|UNIQUE\s+INDEX|VIRTUAL\s+TABLE)\s|BEGIN(\s+IMMEDIATE)?\b|PRAGMA\s|"
                 r"SAVEPOINT\s|WITH\s+\w+\s+AS\s*\()", re.IGNORECASE)
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
    allowed_prefixes = ("channels", "inbound._parsers", "inbound._records", "config")
    found = [f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
             for module, path, tree in modules() if not module.startswith(allowed_prefixes)
             for line, text in strings(tree) if text in CHANNEL_NAMES]
    assert found == [], "channel rules belong in autopilot_cli/channels/policy.py:\n" + "\n".join(found)


def test_the_policy_table_knows_exactly_the_channels_events_can_have() -> None:
    from typing import get_args

    from autopilot_cli.channels.policy import CHANNELS
    from autopilot_cli.inbound._records import Channel

    assert set(get_args(Channel)) == set(CHANNELS)


def imports(module: str, path: Path, tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    """(line, absolute module inside the package, imported names) for each import of our own code."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    if is_package and here == ["__init__"]:
        here = []
    elif is_package:
        here = module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("autopilot_cli"):
                target = node.module[len("autopilot_cli."):] if node.module != "autopilot_cli" else ""
            else:
                continue
            yield node.lineno, target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("autopilot_cli."):
                    yield node.lineno, alias.name[len("autopilot_cli."):], []


def test_no_package_imports_a_higher_layer() -> None:
    found = set()
    for module, path, tree in modules():
        here = layer_of(module)
        for _, target, _ in imports(module, path, tree):
            if target and layer_of(target) > here:
                found.add(f"{path.relative_to(PACKAGE)} imports {'.'.join(target.split('.')[:2])}")
    assert found - KNOWN_UPWARD_IMPORTS == set(), "imports against the layers:\n" + "\n".join(sorted(found))
    assert KNOWN_UPWARD_IMPORTS - found == set(), "paid off: remove from KNOWN_UPWARD_IMPORTS"


def test_no_private_name_is_imported_across_packages() -> None:
    found = []
    for module, path, tree in modules():
        for line, target, names in imports(module, path, tree):
            if not target or top(target) == top(module):
                continue
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            private += [p for p in target.split(".")[1:] if p.startswith("_")]
            if private:
                found.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}: {private}")
    assert found == [], "\n".join(found)


def test_sql_lives_only_in_db() -> None:
    found = [f"{path.relative_to(PACKAGE)}:{line}: {text.strip()[:60]!r}"
             for module, path, tree in modules() if top(module) != "db"
             for line, text in strings(tree) if SQL.match(text)]
    assert found == [], "SQL belongs in autopilot_cli/db/:\n" + "\n".join(found)


# db/ is the exception to private modules: its table-family modules are its surface
# (``jobs.claim_due(...)``, ``audit.record(...)``), called as namespaces. The foundation-level modules
# of MODULE_LAYER stay public too: config validation reads them.
PUBLIC_MODULE_PACKAGES = {"db"}


def domain_packages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.glob("*/__init__.py") if p.parent.name not in PUBLIC_MODULE_PACKAGES)


def test_modules_of_a_package_are_private_behind_its_init() -> None:
    public = [f"{p.relative_to(PACKAGE)}" for package in domain_packages() for p in package.iterdir()
              if (p.suffix == ".py" or (p / "__init__.py").exists()) and not p.name.startswith("_")
              and f"{package.name}.{p.stem}" not in MODULE_LAYER]
    assert public == [], "give internal modules a leading underscore, export names from __init__:\n" + "\n".join(public)


def _type_checking_imports(tree: ast.Module) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                module = "." * imp.level + (imp.module or "")
                found.setdefault(module, set()).update(
                    a.asname if a.asname == a.name else f"{a.asname}={a.name}" for a in imp.names)
    return found


def test_each_init_exports_at_run_time_what_it_declares_to_the_type_checker() -> None:
    import importlib

    from autopilot_cli.lazy import lazy_exports

    inits = [PACKAGE / "__init__.py", *(p / "__init__.py" for p in domain_packages())]
    for init in inits:
        tree = ast.parse(init.read_text(encoding="utf-8"))
        declared = _type_checking_imports(tree)
        assert declared, f"{init.relative_to(PACKAGE)} declares no public names"
        name = "autopilot_cli" + ("" if init.parent == PACKAGE else "." + init.parent.name)
        package = importlib.import_module(name)
        table = {m: set(names) for m, names in _lazy_table(tree).items()}
        assert table == declared, f"{name}: the lazy_exports table and the TYPE_CHECKING imports differ"
        for public in sorted(package.__all__):
            assert getattr(package, public) is not None, f"{name}.{public}"
        assert lazy_exports  # the one helper every __init__ uses


def _lazy_table(tree: ast.Module) -> dict[str, list[str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports":
            table = ast.literal_eval(node.args[1])
            assert isinstance(table, dict)
            return table
    raise AssertionError("no lazy_exports(...) call")


def test_importing_a_package_loads_none_of_its_modules() -> None:
    import subprocess
    import sys

    names = ", ".join(f"autopilot_cli.{p.name}" for p in domain_packages())
    code = (f"import sys, {names}\n"
            "print(sorted(m for m in sys.modules if m.startswith('autopilot_cli.') and '._' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
