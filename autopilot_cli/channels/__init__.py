"""Channel adapters: one module per provider behind the ``Adapter`` protocol (``base.py``)."""
