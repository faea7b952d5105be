"""Public names imported on first use (PEP 562), for the package ``__init__`` modules.

Each package names its public surface in its ``__init__``; importing the package must not import every
module behind it, or ``autopilot status`` would pay for the drafters and the sending engine. So an
``__init__`` hands this a table of ``name -> module`` and gets back the module-level ``__getattr__``,
``__dir__`` and ``__all__``; the same names are imported under ``TYPE_CHECKING`` for the type checker,
and ``tests/test_layout_rules.py`` checks that the two lists agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, table: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``table`` maps a module (relative to ``package``) to the names it provides; a name may be
    ``"public=internal"`` when the module calls it otherwise."""
    where: dict[str, tuple[str, str]] = {}
    for module, names in table.items():
        for name in names:
            public, _, internal = name.partition("=")
            where[public] = (module, internal or public)
    namespace = import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        found = where.get(name)
        if found is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(found[0], package), found[1])
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__, sorted(where)
