"""Operating a shop: status, init and the demo.
"""
