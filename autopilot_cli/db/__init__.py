"""The data layer, and the only place with SQL (``tests/test_layout_rules.py`` holds every other module
to that): the SQLite connection and its transactions (``connection``), numbered migrations, and one
small module per table family — ``jobs``, ``drafts``, ``inbox`` and ``events`` (inbound messages),
``decisions``, ``deliveries``, ``activity`` (last-contact times), ``audit``, ``channel_state``,
``ratelimits``, ``rejects``, ``outbox``, ``status``, ``config_checks``, ``demo`` — plus ``fastpath``,
the standard-library-only check the idle ``execute`` runs before anything else is imported.

Engine code opens the transaction (``Store.transaction()``) and calls these named functions inside it;
a function never commits on its own. Kept free of imports here so the fast path stays light.
"""
