"""The warehouse map: one SVG drawing of a layout that every route view and the layout page use.

Drawn from the walking geometry (server.core.layout.Layout) as a worker standing at the depot
sees it: the front cross aisle (with the depot) at the bottom, aisles going up, each labelled with
its number at both ends; cell faces on both sides of each aisle; the target cell marked and
named; a route as the walked path with its stops numbered in walking order.

Sizes are in metres of the layout; text is sized against the drawing's width so that it stays
legible when the SVG is scaled to a 360 px wide handheld. Route views show only the aisles the
route needs (and a few around them). Every colour is a presentation attribute: the SVG needs no
stylesheet and reads the same inline, as a file or printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from flask import Blueprint, abort, make_response, request
from flask_babel import gettext as _

from server.auth import signed_in
from server.core.bounds import INT32_MAX, parse_whole
from server.core.layout import PickPoint
from server.core.routing import polyline
from server.models import Role
from server.services.errors import DomainError
from server.services.layout_map import (
    MapCell,
    MapData,
    map_cells,
    map_data,
    walked_between,
    warehouse_of_cells,
)
from server.web.handheld import WORKERS
from server.web.map_svg import ACCENT, INK, OK, PAPER, SCREEN_PX, TEXT_PX, Drawing, face_colour
from server.web.map_svg import fmt as _fmt
from server.web.plan_map import render_plan


@dataclass(frozen=True)
class Stop:
    """One stop of a route: its cells (the first gives the place)."""

    cell_ids: tuple[int, ...]


class _Canvas(Drawing):
    def __init__(self, data: MapData, aisles: range):
        layout = data.layout
        self.layout = layout
        self.aisles = aisles
        pitch = layout.aisle_pitch
        self.x0 = aisles.start * pitch - pitch / 2
        self.x1 = (aisles.stop - 1) * pitch + pitch / 2
        self.width = self.x1 - self.x0
        super().__init__(self.width * TEXT_PX / SCREEN_PX)
        self.band = self.text * 1.6  # label bands above and below the aisles
        self.depth = layout.depth

    def y(self, layout_y: float) -> float:
        """SVG y of a layout y: the front (y = 0) at the bottom."""
        return self.band + self.depth - layout_y

    label = Drawing.centred

    def svg(self, title: str) -> str:
        return self.document(title, self.x0, self.width, self.depth + 2 * self.band)


def face_box(canvas: _Canvas, aisle: int, block: int, slot: int, side: str) -> tuple[float, float, float, float]:
    """x, y, width, height of a face: a rack beside the aisle's walking lane."""
    layout = canvas.layout
    pitch, length = layout.aisle_pitch, layout.slot_length
    depth_of_rack = pitch * 0.28
    x = layout.aisle_x[aisle] + (-pitch / 2 + 0.04 * pitch if side == "L" else pitch / 2 - 0.04 * pitch - depth_of_rack)
    y = canvas.y(layout.slot_y(block, slot) + length / 2)
    return x, y, depth_of_rack, length * 0.92


def _aisle_span(data: MapData, points: list[PickPoint], minimum: int) -> range:
    """The aisles a route view shows: those of its points and the depot, widened to `minimum`."""
    aisles = [p.aisle for p in points] + [data.layout.depot_aisle]
    low, high = min(aisles), max(aisles)
    total = data.layout.aisles
    while high - low + 1 < min(minimum, total):
        if low > 0:
            low -= 1
        if high - low + 1 < min(minimum, total) and high < total - 1:
            high += 1
    return range(low, high + 1)


def render(data: MapData, *, stops: list[Stop] | None = None, cells: dict[int, MapCell] | None = None,
           target: int | None = None, zone: str | None = None, fill: bool = False, crop: bool = False) -> str:
    """The map as SVG text.

    stops: a route in walking order (drawn as the path depot -> stops -> depot, stops numbered
    1..n); cells: the cells the stops and target name (from `map_cells`); target: the cell to go
    to (marked and labelled with its address); zone: show only that zone's faces in colour; fill:
    colour faces by the share of their cells holding stock; crop: only the aisles the route needs.
    A warehouse with a building plan is drawn by server.web.plan_map.
    """
    if data.plan is not None:
        return render_plan(data, stops=stops, cells=cells, target=target, zone=zone, fill=fill, crop=crop)
    layout = data.layout
    cells = cells or {}
    route = [cells[s.cell_ids[0]] for s in stops or () if s.cell_ids and s.cell_ids[0] in cells]
    points = [layout.point(c.aisle, c.block, c.slot) for c in route]
    target_cell = cells.get(target) if target is not None else None
    marked = points + ([layout.point(target_cell.aisle, target_cell.block, target_cell.slot)] if target_cell else [])
    if crop and marked:
        # Wide enough that the drawing is not a needle: about two thirds of its depth.
        minimum = max(3, math.ceil(layout.depth * 0.66 / layout.aisle_pitch))
        aisles = _aisle_span(data, marked, minimum)
    else:
        aisles = range(layout.aisles)
    canvas = _Canvas(data, aisles)
    _draw_floor(canvas, data)
    _draw_faces(canvas, data, zone, fill)
    if points:
        _draw_path(canvas, points)
    if target_cell is not None:
        _draw_target(canvas, target_cell)
    _draw_depot(canvas)
    if points:
        _draw_stops(canvas, points, route, target)  # on top: no label hides a stop
    if target_cell is not None:
        title = _("Warehouse %(code)s: go to %(cell)s", code=data.warehouse, cell=target_cell.address)
    else:
        title = _("Warehouse %(code)s", code=data.warehouse)
    return canvas.svg(title)


def _draw_floor(canvas: _Canvas, data: MapData) -> None:
    layout = canvas.layout
    top = canvas.y(layout.depth)
    canvas.add("rect", class_="floor", x=canvas.x0, y=top, width=canvas.width, height=layout.depth, fill="#f6f6f6")
    for c, centre in enumerate(layout.cross_aisle_y):
        half = layout.cross_aisle_width / 2
        canvas.add("rect", class_="cross-aisle", x=canvas.x0, y=canvas.y(centre + half), width=canvas.width,
                   height=layout.cross_aisle_width, fill="#e2e5ea", data_cross_aisle=c)
    step = max(1, math.ceil(canvas.text * 2.4 / layout.aisle_pitch))  # room for "12" per label
    for i in canvas.aisles:
        x = layout.aisle_x[i]
        number = str(data.aisle_numbers[i])
        canvas.add("line", class_="aisle", x1=x, y1=top, x2=x, y2=canvas.y(0), stroke="#d4d8de",
                   stroke_width=canvas.text * 0.12, data_aisle=number)
        if (i - canvas.aisles.start) % step == 0 or i == canvas.aisles.stop - 1:
            for y in (canvas.band / 2, canvas.y(0) + canvas.band / 2):
                canvas.label(x, y, number, class_="aisle-label", fill=INK, font_weight="bold")


def _draw_faces(canvas: _Canvas, data: MapData, zone: str | None, fill: bool) -> None:
    shown = set(canvas.aisles)
    for face in data.faces:
        if face.aisle not in shown:
            continue
        x, y, w, h = face_box(canvas, face.aisle, face.block, face.slot, face.side)
        colour = face_colour(face, zone is None or face.zone == zone, fill)
        canvas.add("rect", class_="face", x=x, y=y, width=w, height=h, fill=colour, data_zone=face.zone,
                   data_cells=face.cells, data_stocked=face.stocked)


def _draw_path(canvas: _Canvas, points: list[PickPoint]) -> None:
    """The walk depot -> stops -> depot along aisle and cross-aisle centre lines."""
    line = " ".join(f"{_fmt(x)},{_fmt(canvas.y(y))}" for x, y in polyline(canvas.layout, points))
    canvas.add("polyline", class_="path", points=line, fill="none", stroke=ACCENT, stroke_width=canvas.text * 0.3,
               stroke_linejoin="round", stroke_linecap="round")


def _draw_stops(canvas: _Canvas, points: list[PickPoint], route: list[MapCell], target: int | None) -> None:
    radius = canvas.text * 0.75
    for number, (point, cell) in enumerate(zip(points, route, strict=True), start=1):
        here = cell.id == target
        x, y = point.x, canvas.y(point.y)
        colour = OK if here else ACCENT
        canvas.parts.append(f'<g class="stop{" current" if here else ""}" data-stop="{number}"'
                            f' data-cell={quoteattr(cell.address)}>')
        canvas.add("title", cell.address)
        canvas.add("circle", cx=x, cy=y, r=radius, fill=colour, stroke=PAPER, stroke_width=radius * 0.2)
        canvas.label(x, y, str(number), size=canvas.text * 0.85, fill=PAPER, font_weight="bold")
        canvas.parts.append("</g>")


def _draw_target(canvas: _Canvas, cell: MapCell) -> None:
    x, y, w, h = face_box(canvas, cell.aisle, cell.block, cell.slot, cell.side)
    pad = canvas.text * 0.25
    canvas.add("rect", class_="target", x=x - pad, y=y - pad, width=w + 2 * pad, height=h + 2 * pad, fill=OK,
               stroke=INK, stroke_width=pad * 0.6, data_cell=cell.address)
    # The address on a plate beside the face, away from the aisle's lane (where the stops are),
    # kept inside the drawing.
    size = canvas.text
    width = size * 0.62 * len(cell.address) + size
    gap = pad * 2
    centre = x - gap - width / 2 if cell.side == "L" else x + w + gap + width / 2
    centre = min(max(centre, canvas.x0 + width / 2), canvas.x1 - width / 2)
    top = y + h / 2 - size * 0.75
    canvas.add("rect", class_="target-plate", x=centre - width / 2, y=top, width=width, height=size * 1.5,
               rx=size * 0.3, fill=INK)
    canvas.label(centre, top + size * 0.75, cell.address, class_="target-label", fill=PAPER, font_weight="bold")


def _draw_depot(canvas: _Canvas) -> None:
    depot = canvas.layout.depot
    x, y = depot.x, canvas.y(depot.y)
    side = canvas.text * 1.1
    canvas.add("rect", class_="depot", x=x - side / 2, y=y - side / 2, width=side, height=side, fill=INK)
    label = _("Depot")
    # Beside the square, on the side with room.
    room_right = canvas.x1 - (x + side)
    width = canvas.text * 0.62 * len(label)
    lx = x + side * 0.7 + width / 2 if room_right > width else x - side * 0.7 - width / 2
    canvas.label(lx, y, label, class_="depot-label", fill=INK, font_weight="bold")


# --- the map as a page asset -----------------------------------------------------------------

maps = Blueprint("maps", __name__)

MAX_STOPS = 300
MAX_ID = INT32_MAX


def parse_stops(text: str) -> list[Stop]:
    """`12,15;17`: stops in walking order separated by `;`, each its cell ids; 400 when malformed."""
    stops = []
    for part in (text or "").split(";")[: MAX_STOPS + 1]:
        if not part.strip():
            continue
        ids = tuple(i for i in (parse_whole(v, MAX_ID) for v in part.split(",")) if i is not None)
        if not ids:
            abort(400)
        stops.append(Stop(ids))
    if len(stops) > MAX_STOPS:
        abort(400)
    return stops


@maps.get("/map/route.svg")
@signed_in(*WORKERS, Role.picker)
def route_svg():
    """The map of a route: ?stops=ID,ID;ID (cells of each stop, in walking order) &target=ID
    (&start=CODE&drop=CODE: on a building plan, the points the walk runs between; default the
    warehouse's). Drawn for the warehouse of the first cell; only the aisles the route needs. For
    the roles of the pages that show a route (putaway, picking)."""
    stops = parse_stops(request.args.get("stops", ""))
    target = request.args.get("target", "")
    target_id = parse_whole(target, MAX_ID)
    ids = [i for s in stops for i in s.cell_ids] + ([target_id] if target_id else [])
    warehouse_id = warehouse_of_cells(ids)
    if warehouse_id is None:
        abort(404)
    try:
        data = map_data(warehouse_id)
    except DomainError:
        abort(404)
    data = walked_between(data, request.args.get("start", "")[:32], request.args.get("drop", "")[:32])
    svg = render(data, stops=stops, cells=map_cells(ids, data), target=target_id, crop=True)
    response = make_response(svg)
    response.mimetype = "image/svg+xml"
    response.headers["Cache-Control"] = "private, no-store"
    return response
