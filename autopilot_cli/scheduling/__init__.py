"""When a reply may and should go out: the planner (pure), the rules, the inputs read from the
database, and contacts' time zones.
"""
