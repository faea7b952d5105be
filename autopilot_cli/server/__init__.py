"""``autopilot serve``: the webhook receiver (app) on its HTTP transport (http).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._app import (
        WEBHOOK_CHANNELS as WEBHOOK_CHANNELS,
        WebhookApp as WebhookApp,
        json_logging as json_logging,
        log as log,
    )
    from ._http import WebhookServer as WebhookServer, serve_until_signalled as serve_until_signalled
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._app": ("WEBHOOK_CHANNELS", "WebhookApp", "json_logging", "log",),
        "._http": ("WebhookServer", "serve_until_signalled",),
    })
