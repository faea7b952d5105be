"""Inbound: provider payloads in (ingest, one result per file), parsed records, webhook signatures and
delivery statuses.
"""
