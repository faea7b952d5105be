"""A/B experiments: assignment, the experiments themselves, their metrics, statistics and conversions.
"""
