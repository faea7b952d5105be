"""Contacts: who they are (directory, addresses), what they want (preferences, consent, the opt-out
classifier, unsubscribe tokens) and what they were told (history).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._addresses import AddressError as AddressError, normalize_address as normalize_address
    from ._consent import (
        apply_preference as apply_preference,
        opt_out_and_cancel as opt_out_and_cancel,
        opted_out as opted_out,
        opted_out_among as opted_out_among,
        record_change as record_change,
    )
    from ._consent_list import list_contacts as list_contacts, opt_in as opt_in, opt_out as opt_out
    from ._directory import ContactCache as ContactCache, note_away as note_away
    from ._history import (
        DEFAULT_LIMIT as DEFAULT_LIMIT,
        Conversation as Conversation,
        HistoryEntry as HistoryEntry,
        conversation as conversation,
        parse_since as parse_since,
    )
    from ._optout import ConsentSignal as ConsentSignal, classify_message as classify_message, is_typed as is_typed
    from ._preferences import (
        FIELDS as FIELDS,
        ConsentEntry as ConsentEntry,
        ContactPrefs as ContactPrefs,
        PrefsUpdate as PrefsUpdate,
        contact_timezone as contact_timezone,
        find_contact_id as find_contact_id,
        get_prefs as get_prefs,
        update_prefs as update_prefs,
    )
    from ._unsubscribe import (
        TokenInvalid as TokenInvalid,
        check_unsubscribe_settings as check_unsubscribe_settings,
        read_token as read_token,
        unsubscribe_secret as unsubscribe_secret,
        unsubscribe_url as unsubscribe_url,
    )
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._addresses": ("AddressError", "normalize_address",),
        "._consent": ("apply_preference", "opt_out_and_cancel", "opted_out", "opted_out_among", "record_change",),
        "._consent_list": ("list_contacts", "opt_in", "opt_out",),
        "._directory": ("ContactCache", "note_away",),
        "._history": ("Conversation", "DEFAULT_LIMIT", "HistoryEntry", "conversation", "parse_since",),
        "._optout": ("ConsentSignal", "classify_message", "is_typed",),
        "._preferences": (
            "ConsentEntry", "ContactPrefs", "FIELDS", "PrefsUpdate", "contact_timezone", "find_contact_id", "get_prefs",
            "update_prefs",
        ),
        "._unsubscribe": (
            "TokenInvalid", "check_unsubscribe_settings", "read_token", "unsubscribe_secret", "unsubscribe_url",
        ),
    })
