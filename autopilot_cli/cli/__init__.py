"""The command line: the Typer app, where config, database and secrets come from, rendering (untrusted
text escaped), the review screen and one module per command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._app import app as app, main as main
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._app": ("app", "main",),
    })
