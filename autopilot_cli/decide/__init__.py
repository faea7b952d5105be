"""Deciding each inbound event: the process run, its ordered checks, the text checks done ahead, the
stored outcomes and their explanation.
"""
