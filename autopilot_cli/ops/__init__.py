"""Operating a shop: status, init, moving its database and the demo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._channels import channel_overview as channel_overview
    from ._db_copy import CopyReport as CopyReport, copy_shop as copy_shop
    from ._demo import DemoReport as DemoReport, run_demo as run_demo
    from ._init import init_directory as init_directory
    from ._status import StatusReport as StatusReport, system_status as system_status
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._channels": ("channel_overview",),
        "._db_copy": ("CopyReport", "copy_shop",),
        "._demo": ("DemoReport", "run_demo",),
        "._init": ("init_directory",),
        "._status": ("StatusReport", "system_status",),
    })
