"""Slotting: putaway suggestions from an incremental index, and the re-slotting plan.

See docs/slotting.md for how suggestions are ranked.
"""

from server.core.slotting.cells import (
    ACTIVE,
    BLOCKED,
    EARLIER_EXPIRY,
    MIXED,
    MIXED_SCAN,
    MIXING_RULES,
    ONE_LOT,
    ONE_SKU,
    OTHER_LOT,
    OTHER_SKU,
    VELOCITY_CLASSES,
    ZONE_ORDER,
    Candidate,
    CellSpec,
    Content,
    NothingFitsError,
    SlottingError,
    UnknownCellError,
    UnknownSkuError,
    capacity_refusal,
    mixing_refusal,
)
from server.core.slotting.index import SlotIndex
from server.core.slotting.plan import (
    Move,
    ReslottingPlan,
    co_picking,
    plan_reslotting,
    velocity,
    velocity_classes,
)
from server.core.slotting.rankset import RankSet

__all__ = [
    "ACTIVE", "BLOCKED", "EARLIER_EXPIRY", "MIXED", "MIXED_SCAN", "MIXING_RULES", "ONE_LOT", "ONE_SKU", "OTHER_LOT", "OTHER_SKU", "VELOCITY_CLASSES",
    "ZONE_ORDER", "Candidate", "CellSpec", "Content", "Move", "NothingFitsError", "RankSet", "ReslottingPlan",
    "SlotIndex", "SlottingError", "UnknownCellError", "UnknownSkuError", "capacity_refusal", "co_picking", "mixing_refusal", "plan_reslotting",
    "velocity", "velocity_classes",
]
