"""The speed-critical core: warehouse geometry, routing, slotting, batching.

Pure Python (with an optional compiled helper): imports nothing of ours, no Flask, no SQLAlchemy.
"""
