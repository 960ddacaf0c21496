"""Warehouse layout from a spec: zones and cells with their address and walking-geometry place.

`parse_spec(data)` checks a spec (the dict of a TOML file) and raises LayoutError naming every bad
key; `apply_layout(spec)` upserts the warehouse, zones and cells by address. The service flushes;
the caller commits (or rolls back for a dry run). The format is documented in docs/layout.md.

Storage areas are blocks x aisles x bays x levels x positions. Aisles run through every block;
cross aisles separate the blocks. Along one aisle of one block the pick faces stand in slots
1..bays, on the left (L) and/or right (R) side. Bay numbers continue along the aisle from one
block to the next; with faces on both sides, left bays are odd and right bays even (default).

Two modules: spec (reading and checking) and apply (writing).
"""

from server.services.layout.apply import Counts, LayoutReport, apply_layout
from server.services.layout.spec import CellPlan, LayoutError, LayoutSpec, load_spec, parse_spec

__all__ = ["CellPlan", "Counts", "LayoutError", "LayoutReport", "LayoutSpec", "apply_layout", "load_spec", "parse_spec"]
