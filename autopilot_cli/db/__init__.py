"""The data layer: the SQLite connection and its transactions, numbered migrations, and the table families
with their own module (rejects, rate-limit counters, config checks).
"""
