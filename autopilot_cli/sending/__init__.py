"""Sending due jobs: the engine (claims, waves, pacing, outcomes), the checks just before a send, and
the one-run-per-channel locks.
"""
