"""Putaway suggestions from an incremental index of cells and what they hold.

`SlotIndex` keeps, for every cell, its free capacity and contents, and these buckets:

- per SKU: the cells holding it (consolidation candidates);
- per (cell type, velocity zone, capacity profile): empty active cells, in a `RankSet` sorted by
  walking distance from the depot; all cells of a bucket have the same capacity, so one check
  tells whether the whole bucket can take the goods;
- per (cell type, velocity zone): active mixed cells that hold something and still have room,
  sorted by distance.

`apply()` (every stock change) and `block()` / `unblock()` update a few entries; `suggest()`
reads the SKU's own cells and the first cells of a few buckets, never all cells.

Units: volume in cm3, weight in g, as in the catalogue; kept internally as integer mm3 and mg
so that adding and removing stock never drifts.
"""

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from server.core.layout import Layout, LayoutError
from server.core.slotting.cells import (
    _RULE_CODE,
    ACTIVE,
    BLOCKED,
    MIXED_SCAN,
    MIXING_RULES,
    ONE_SKU,
    VELOCITY_CLASSES,
    ZONE_ORDER,
    Candidate,
    CellSpec,
    Content,
    NothingFitsError,
    SlottingError,
    UnknownCellError,
    UnknownSkuError,
    mixing_refusal,
)
from server.core.slotting.rankset import RankSet

_UNLIMITED = 1 << 62
_new = tuple.__new__
# Columns of a cell's row in SlotIndex._hot (suggest() spells them as numbers: 0..7 after i << 3).
_V, _W, _U, _CV, _CW, _CU, _RANK, _FLAGS = range(8)
_ROW = 8  # builds a Candidate without NamedTuple's argument handling
_MILLI = 1000


def _milli(value, what: str) -> int:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UnknownSkuError(f"{what} must be a number >= 0 (got {value!r})")
    return round(value * _MILLI)


def _capacity(value, what: str, cell_id, scale: int) -> int:
    if value is None:
        return _UNLIMITED
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SlottingError(f"cell {cell_id!r}: {what} must be a number >= 0 or None (got {value!r})")
    return round(value * scale)


class SlotIndex:
    def __init__(
        self,
        layout: Layout,
        cells: Iterable[CellSpec],
        contents: Iterable[Content] = (),
        *,
        skus: Mapping[Any, tuple[float, float]] | None = None,
        zone_mixing: Mapping[str, str] | None = None,
        default_mixing: str = ONE_SKU,
        velocity_shares: tuple[float, float] = (0.2, 0.3),
    ):
        """cells: all storage cells; contents: current quants; skus: sku -> (unit cm3, unit g);
        velocity_shares: the nearest 20% of each cell type's cells form zone A, the next 30% B."""
        zone_mixing = dict(zone_mixing or {})
        for rule in (default_mixing, *zone_mixing.values()):
            if rule not in MIXING_RULES:
                raise SlottingError(f"unknown mixing rule {rule!r}; known: {', '.join(MIXING_RULES)}")
        share_a, share_b = velocity_shares
        if not (share_a >= 0 and share_b >= 0 and share_a + share_b <= 1):
            raise SlottingError(f"velocity shares must be >= 0 and add up to at most 1 (got {velocity_shares!r})")
        self.layout = layout
        self.default_mixing = default_mixing
        self.zone_mixing = zone_mixing
        self.velocity_shares = (share_a, share_b)
        self._specs: list[CellSpec] = list(cells)
        n = len(self._specs)
        self._index_of: dict[Any, int] = {}
        self._type: list[str] = [""] * n
        self._rule: list[int] = [0] * n
        # What a suggestion reads about a cell, in one 64-byte row of machine ints (one cache line):
        # used mm3, mg, units; capacity mm3, mg, units; distance rank; flags (active, rule, zone, type).
        self._hot = array("q", bytes(8 * _ROW * n))
        self._contents: list[dict | None] = [None] * n
        self._dist = [0.0] * n
        self._rank = array("q", bytes(8 * n))
        self._zone = [0] * n
        self._in_empty = bytearray(n)
        self._in_partial = bytearray(n)
        self._empty_set: list[RankSet | None] = [None] * n
        self._partial_set: list[RankSet | None] = [None] * n
        self._holders: dict[Any, dict[int, int]] = {}
        self._sku_dims: dict[Any, tuple[int, int]] = {}
        self._plans: dict = {}

        distance_of: dict[tuple[int, int, int], float] = {}
        depots = layout.depots
        for i, spec in enumerate(self._specs):
            if spec.id in self._index_of:
                raise SlottingError(f"cell {spec.id!r} appears twice")
            self._index_of[spec.id] = i
            key = (spec.aisle, spec.block, spec.slot)
            if key not in distance_of:
                try:
                    point = layout.point(*key)
                except LayoutError as error:
                    raise SlottingError(f"cell {spec.id!r}: {error}") from None
                distance_of[key] = min(layout.distance(depot, point) for depot in depots)
            self._dist[i] = distance_of[key]
            rule = spec.mixing or zone_mixing.get(spec.zone, default_mixing)
            if rule not in _RULE_CODE:
                raise SlottingError(f"cell {spec.id!r}: unknown mixing rule {rule!r}; known: {', '.join(MIXING_RULES)}")
            if spec.status not in (ACTIVE, BLOCKED):
                raise SlottingError(f"cell {spec.id!r}: status must be {ACTIVE!r} or {BLOCKED!r} (got {spec.status!r})")
            self._rule[i] = _RULE_CODE[rule]
            self._type[i] = spec.cell_type
            row = i * _ROW
            self._hot[row + _CV] = _capacity(spec.max_volume_cm3, "max volume", spec.id, _MILLI)
            self._hot[row + _CW] = _capacity(spec.max_weight_g, "max weight", spec.id, _MILLI)
            self._hot[row + _CU] = _capacity(spec.max_units, "max units", spec.id, 1)

        # Walking distance order (lower levels first at one point) and velocity zones per cell type.
        order = sorted(range(n), key=lambda i: (self._dist[i], self._specs[i].level, i))
        self._cell_at_rank = array("q", order)
        per_type: dict[str, list[int]] = {}
        for rank, i in enumerate(order):
            self._rank[i] = rank
            per_type.setdefault(self._type[i], []).append(i)
        for members in per_type.values():
            a_end = round(len(members) * share_a)
            b_end = round(len(members) * (share_a + share_b))
            for position, i in enumerate(members):
                self._zone[i] = 0 if position < a_end else 1 if position < b_end else 2
        self.cell_types = tuple(sorted(per_type))
        self._type_code = {cell_type: code for code, cell_type in enumerate(self.cell_types)}
        hot = self._hot
        for i, spec in enumerate(self._specs):
            hot[i * _ROW + _RANK] = self._rank[i]
            hot[i * _ROW + _FLAGS] = ((spec.status == ACTIVE) | self._rule[i] << 1 | self._zone[i] << 3
                                      | self._type_code[self._type[i]] << 5)

        # Buckets: empty cells per (type, zone, capacity profile), mixed cells with room per (type, zone).
        self._empty_buckets: dict[tuple[str, int], list[list]] = {}
        profiles: dict[tuple, RankSet] = {}
        self._partial_buckets: dict[tuple[str, int], RankSet] = {}
        # Largest capacity in each partial bucket: goods bigger than that skip the bucket.
        self._partial_max: dict[int, tuple[int, int, int]] = {}
        for i in range(n):
            tz = (self._type[i], self._zone[i])
            caps = self._hot[i * _ROW + _CV: i * _ROW + _CU + 1]
            profile = (*tz, *caps)
            if profile not in profiles:
                profiles[profile] = RankSet()
                self._empty_buckets.setdefault(tz, []).append([*profile[2:], profiles[profile]])
            self._empty_set[i] = profiles[profile]
            if self._rule[i] == 2:
                if tz not in self._partial_buckets:
                    self._partial_buckets[tz] = RankSet()
                members = self._partial_set[i] = self._partial_buckets[tz]
                most = self._partial_max.get(id(members), (0, 0, 0))
                self._partial_max[id(members)] = (max(most[0], caps[0]), max(most[1], caps[1]),
                                                  max(most[2], caps[2]))
        for i in range(n):
            self._refresh(i)

        for sku, (volume, weight) in (skus or {}).items():
            self.set_sku(sku, volume, weight)
        for content in contents:
            self.apply(*content)

    # --- updates ------------------------------------------------------------------------------

    def set_sku(self, sku, unit_volume_cm3: float, unit_weight_g: float) -> None:
        """Record (or change) a SKU's unit volume and weight; cells holding it are recounted."""
        dims = (_milli(unit_volume_cm3, "unit volume (cm3)"), _milli(unit_weight_g, "unit weight (g)"))
        old = self._sku_dims.get(sku)
        if old == dims:
            return
        self._sku_dims[sku] = dims
        if old is not None:
            for i in self._holders.get(sku, ()):
                units = sum(q for key, q in self._contents[i].items() if key[0] == sku)
                self._hot[i * _ROW + _V] += units * (dims[0] - old[0])
                self._hot[i * _ROW + _W] += units * (dims[1] - old[1])
                self._refresh(i)

    def apply(self, cell_id, sku, lot: str = "", expiry: date | None = None, delta: int = 0,
              unit_volume_cm3: float | None = None, unit_weight_g: float | None = None) -> None:
        """A stock change: `delta` units (negative: taken out) of SKU/lot/expiry in a cell."""
        i = self._index_of.get(cell_id)
        if i is None:
            raise UnknownCellError(f"unknown cell {cell_id!r}")
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise SlottingError(f"a stock change needs a whole number of units (got {delta!r})")
        if unit_volume_cm3 is not None or unit_weight_g is not None:
            old = self._sku_dims.get(sku)
            if unit_volume_cm3 is None or unit_weight_g is None:
                if old is None:
                    raise UnknownSkuError(f"SKU {sku!r}: both unit volume and unit weight are needed")
            else:
                self.set_sku(sku, unit_volume_cm3, unit_weight_g)
        dims = self._sku_dims.get(sku)
        if dims is None:
            raise UnknownSkuError(f"SKU {sku!r} has no unit volume and weight yet; pass them or call set_sku()")
        contents = self._contents[i]
        key = (sku, lot, expiry)
        old_q = contents.get(key, 0) if contents else 0
        new_q = old_q + delta
        if new_q < 0:
            raise SlottingError(f"cell {cell_id!r} holds {old_q} of SKU {sku!r} lot {lot!r}, cannot take out {-delta}")
        if delta == 0:
            return
        if contents is None:
            contents = self._contents[i] = {}
        held = self._holders.get(sku)
        if new_q:
            contents[key] = new_q
            if old_q == 0:
                if held is None:
                    held = self._holders[sku] = {}
                held[i] = held.get(i, 0) + 1
        else:
            del contents[key]
            if held[i] == 1:
                del held[i]
                if not held:
                    del self._holders[sku]
            else:
                held[i] -= 1
            if not contents:
                self._contents[i] = None
        hot = self._hot
        row = i * _ROW
        hot[row] += delta * dims[0]
        hot[row + _W] += delta * dims[1]
        hot[row + _U] += delta
        self._refresh(i)

    def block(self, cell_id) -> None:
        self.set_status(cell_id, BLOCKED)

    def unblock(self, cell_id) -> None:
        self.set_status(cell_id, ACTIVE)

    def set_status(self, cell_id, status: str) -> None:
        i = self._index_of.get(cell_id)
        if i is None:
            raise UnknownCellError(f"unknown cell {cell_id!r}")
        if status not in (ACTIVE, BLOCKED):
            raise SlottingError(f"status must be {ACTIVE!r} or {BLOCKED!r} (got {status!r})")
        row = i * _ROW + _FLAGS
        self._hot[row] = self._hot[row] & ~1 | (status == ACTIVE)
        self._refresh(i)

    def _refresh(self, i: int) -> None:
        """Put a cell into (or take it out of) the buckets its state calls for."""
        hot = self._hot
        row = i * _ROW
        active = hot[row + _FLAGS] & 1
        empty = bool(active and self._contents[i] is None)
        if empty != self._in_empty[i]:
            self._in_empty[i] = empty
            (self._empty_set[i].add if empty else self._empty_set[i].discard)(self._rank[i])
        if self._rule[i] == 2:
            partial = bool(active and not empty and hot[row + _U] < hot[row + _CU]
                           and hot[row] < hot[row + _CV] and hot[row + _W] < hot[row + _CW])
            if partial != self._in_partial[i]:
                self._in_partial[i] = partial
                (self._partial_set[i].add if partial else self._partial_set[i].discard)(self._rank[i])

    # --- suggestions --------------------------------------------------------------------------

    def suggest(self, sku, quantity: int, unit_volume_cm3: float | None = None, unit_weight_g: float | None = None,
                lot: str = "", expiry: date | None = None, velocity: str = "B",
                cell_types: Iterable[str] | None = None, limit: int = 5) -> list[Candidate]:
        """Up to `limit` cells for `quantity` units, best first (see docs/slotting.md).

        Raises NothingFitsError when no cell can take the whole quantity, SlottingError on bad input.
        """
        if quantity.__class__ is not int or quantity <= 0:
            raise SlottingError(f"quantity must be a whole number above zero (got {quantity!r})")
        if limit.__class__ is not int or limit <= 0:
            raise SlottingError(f"limit must be a whole number above zero (got {limit!r})")
        if (unit_volume_cm3.__class__ is float and unit_weight_g.__class__ is float
                and unit_volume_cm3 >= 0 and unit_weight_g >= 0):
            uv = round(unit_volume_cm3 * _MILLI)  # the common case, without a call
            uw = round(unit_weight_g * _MILLI)
        elif unit_volume_cm3 is None or unit_weight_g is None:
            dims = self._sku_dims.get(sku)
            if dims is None:
                raise UnknownSkuError(f"SKU {sku!r}: unit volume and weight unknown; pass them or call set_sku()")
            uv = dims[0] if unit_volume_cm3 is None else _milli(unit_volume_cm3, "unit volume (cm3)")
            uw = dims[1] if unit_weight_g is None else _milli(unit_weight_g, "unit weight (g)")
        else:
            uv = _milli(unit_volume_cm3, "unit volume (cm3)")
            uw = _milli(unit_weight_g, "unit weight (g)")
        types_key = cell_types if cell_types is None or isinstance(cell_types, tuple) else tuple(cell_types)
        plan = self._plans.get((velocity, types_key))
        if plan is None:
            plan = self._plan(velocity, types_key)
        zone_rank, type_mask, groups = plan
        need_v = quantity * uv
        need_w = quantity * uw
        out: list[Candidate] = []
        hot = self._hot
        dist = self._dist
        specs = self._specs
        held = self._holders.get(sku)

        if held:
            found = []
            contents_of = self._contents
            key = (sku, lot, expiry)
            for i in held:
                row = i << 3
                flags = hot[row + 7]
                if not flags & 1 or not type_mask >> (flags >> 5) & 1:
                    continue  # blocked, or a cell type not allowed
                if (hot[row + 2] + quantity > hot[row + 5] or hot[row] + need_v > hot[row + 3]
                        or hot[row + 1] + need_w > hot[row + 4]):
                    continue
                contents = contents_of[i]
                if mixing_refusal(MIXING_RULES[flags >> 1 & 3], contents, sku, lot, expiry) is not None:
                    continue
                found.append((0 if key in contents else 1, zone_rank[flags >> 3 & 3], hot[row + 6], i))
            if len(found) > 1:
                found.sort()
            for tier, _, _, i in found[:limit]:
                out.append(_new(Candidate, (specs[i].id, "same lot" if tier == 0 else "same SKU", dist[i],
                                            "ABC"[self._zone[i]])))

        if len(out) < limit:
            cell_at = self._cell_at_rank
            for zone_label, empty_buckets, partial_sets in groups:
                want = limit - len(out)
                picked = []
                sources = 0
                for cap_v_, cap_w_, cap_u_, members in empty_buckets:
                    if quantity <= cap_u_ and need_v <= cap_v_ and need_w <= cap_w_ and members._len:
                        picked.extend(members.first(want))
                        sources += 1
                if partial_sets:
                    for members, (most_v, most_w, most_u) in partial_sets:
                        if need_v > most_v or need_w > most_w or quantity > most_u or not members._len:
                            continue
                        taken = 0
                        for r in members.first(MIXED_SCAN):
                            i = cell_at[r]
                            row = i << 3
                            if (hot[row + 2] + quantity <= hot[row + 5] and hot[row] + need_v <= hot[row + 3]
                                    and hot[row + 1] + need_w <= hot[row + 4] and not (held and i in held)):
                                picked.append(r)
                                taken += 1
                                if taken == want:
                                    break
                        sources += taken > 0
                if sources > 1:
                    picked.sort()
                for r in picked[:want]:
                    i = cell_at[r]
                    out.append(_new(Candidate, (specs[i].id, "empty" if self._contents[i] is None else "mixed",
                                                dist[i], zone_label)))
                if len(out) >= limit:
                    break

        if not out:
            types_text = "any type" if types_key is None else "type " + "/".join(types_key)
            raise NothingFitsError(
                f"no active cell of {types_text} can take {quantity} of SKU {sku!r} "
                f"({need_v / _MILLI:,.0f} cm3, {need_w / _MILLI:,.0f} g) under its capacity and mixing rules"
            )
        return out

    def _plan(self, velocity, types_key):
        """What a suggestion reads, per (velocity class, cell types): zones in order and their buckets."""
        if velocity not in ZONE_ORDER:
            raise SlottingError(f"velocity class must be one of {', '.join(VELOCITY_CLASSES)} (got {velocity!r})")
        if types_key is None:
            types = self.cell_types
        else:
            unknown = [t for t in types_key if t not in self.cell_types]
            if unknown:
                raise SlottingError(f"no cells of type {', '.join(map(repr, unknown))} in this index; "
                                    f"known: {', '.join(self.cell_types)}")
            types = tuple(dict.fromkeys(types_key))
            if not types:
                raise SlottingError("allowed cell types must not be empty")
        order = ZONE_ORDER[velocity]
        zone_rank = [order.index(z) for z in range(3)]
        groups = []
        for zone in order:
            empty = [bucket for t in types for bucket in self._empty_buckets.get((t, zone), ())]
            partial = [(self._partial_buckets[(t, zone)], self._partial_max[id(self._partial_buckets[(t, zone)])])
                       for t in types if (t, zone) in self._partial_buckets]
            groups.append(("ABC"[zone], empty, partial))
        type_mask = sum(1 << self._type_code[t] for t in types)
        plan = (zone_rank, type_mask, groups)
        self._plans[(velocity, types_key)] = plan
        return plan

    # --- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._specs)

    def cells(self) -> list[CellSpec]:
        """The cells with their current status (to rebuild the index)."""
        return [replace(spec, status=ACTIVE if self._hot[i * _ROW + _FLAGS] & 1 else BLOCKED)
                for i, spec in enumerate(self._specs)]

    def contents(self) -> list[Content]:
        """Every quant the index holds, with its SKU's unit volume and weight."""
        out = []
        for i, contents in enumerate(self._contents):
            for (sku, lot, expiry), quantity in (contents or {}).items():
                uv, uw = self._sku_dims[sku]
                out.append(Content(self._specs[i].id, sku, lot, expiry, quantity, uv / _MILLI, uw / _MILLI))
        return out

    def cell_contents(self, cell_id) -> dict:
        """{(sku, lot, expiry): quantity} of one cell."""
        i = self._index_of.get(cell_id)
        if i is None:
            raise UnknownCellError(f"unknown cell {cell_id!r}")
        return dict(self._contents[i] or {})

    def free(self, cell_id) -> tuple[float | None, float | None, int | None]:
        """Free (volume cm3, weight g, units) of a cell; None where it is not limited."""
        i = self._index_of.get(cell_id)
        if i is None:
            raise UnknownCellError(f"unknown cell {cell_id!r}")

        def left(cap, used, scale):
            return None if cap == _UNLIMITED else (cap - used) / scale if scale > 1 else cap - used

        row = self._hot[i * _ROW: i * _ROW + _ROW]
        return left(row[_CV], row[_V], _MILLI), left(row[_CW], row[_W], _MILLI), left(row[_CU], row[_U], 1)

    def cells_holding(self, sku) -> list:
        """Cells holding a SKU, nearest the depot first."""
        return [self._specs[i].id for i in sorted(self._holders.get(sku, ()), key=self._rank.__getitem__)]

    def distance(self, cell_id) -> float:
        return self._dist[self._index_of[cell_id]]

    def zone(self, cell_id) -> str:
        """Velocity zone of a cell: "A" nearest the depot, "B", "C" farthest."""
        return "ABC"[self._zone[self._index_of[cell_id]]]

    def mixing(self, cell_id) -> str:
        return MIXING_RULES[self._rule[self._index_of[cell_id]]]

    def state(self) -> dict:
        """Everything the index knows, in a comparable form (tests: incremental == rebuilt)."""
        ids = [spec.id for spec in self._specs]
        return {
            "cells": {ids[i]: (tuple(self._hot[i * _ROW: i * _ROW + _ROW]),
                               dict(self._contents[i] or {})) for i in range(len(ids))},
            "holders": {sku: {ids[i]: count for i, count in held.items()} for sku, held in self._holders.items()},
            "empty": {key + tuple(bucket[:3]): [ids[self._cell_at_rank[r]] for r in bucket[3]]
                      for key, buckets in self._empty_buckets.items() for bucket in buckets},
            "partial": {key: [ids[self._cell_at_rank[r]] for r in members]
                        for key, members in self._partial_buckets.items()},
        }
