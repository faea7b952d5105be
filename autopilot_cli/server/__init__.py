"""``autopilot serve``: the webhook receiver (app) on its HTTP transport (http).
"""
