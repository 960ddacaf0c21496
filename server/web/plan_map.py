"""The warehouse map of a building plan (layout spec [[halls]]): drawn in building coordinates.

The halls' outlines, their racks (coloured as the rectangular map colours faces), the walkable
graph's edges (one-way edges with arrows in their direction), the named points with the start
and drop labelled, aisle numbers at both ends of each aisle, the target cell marked and named and
a route as its walk along the graph (start -> stops -> drop) with numbered stops. North (y up)
is up. server/web/warehouse_map.py calls `render_plan` for a warehouse with a plan.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import quoteattr

from flask_babel import gettext as _

from server.core.routing import polyline
from server.services.layout_map import Face, MapCell, MapData
from server.web.map_svg import ACCENT, INK, OK, PAPER, SCREEN_PX, TEXT_PX, Drawing, face_colour, fmt

EDGE, ONEWAY, HALL_FILL, HALL_LINE = "#9aa3ae", "#b3261e", "#f6f6f6", "#5f6670"
# A route view shows at least this many metres across (so that a short walk is not a close-up).
MIN_VIEW_M = 24.0
PAD = 2.2  # margin around the drawing, in text heights


class PlanCanvas(Drawing):
    """Building coordinates -> SVG: x as is, y flipped (north up), inside a view box."""

    classes = "wh-map wh-plan"

    def __init__(self, box: tuple[float, float, float, float]):
        x0, y0, x1, y1 = box
        # Text TEXT_PX high when the whole drawing (the box and its margins) is SCREEN_PX wide.
        share = TEXT_PX / SCREEN_PX
        super().__init__(max(x1 - x0, 1.0) * share / (1 - 2 * PAD * share))
        pad = self.text * PAD
        self.x0, self.y0, self.x1, self.y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
        self.width = self.x1 - self.x0

    def y(self, y: float) -> float:
        return self.y1 - y

    def xy(self, point) -> str:
        return f"{fmt(point[0])},{fmt(self.y(point[1]))}"

    def label(self, x: float, y: float, text: str, size: float | None = None, **attrs) -> None:
        """Text centred on building point (x, y)."""
        self.centred(x, self.y(y), text, size, **attrs)

    def svg(self, title: str) -> str:
        return self.document(title, self.x0, self.width, self.y1 - self.y0)


def _box(points) -> tuple[float, float, float, float]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _widen(box, minimum: float, within) -> tuple[float, float, float, float]:
    """`box` grown to at least `minimum` metres each way, not beyond `within`."""
    x0, y0, x1, y1 = box
    wx0, wy0, wx1, wy1 = within
    for low, high, wlow, whigh, axis in ((x0, x1, wx0, wx1, 0), (y0, y1, wy0, wy1, 1)):
        need = min(minimum, whigh - wlow) - (high - low)
        if need > 0:
            low, high = low - need / 2, high + need / 2
            shift = max(wlow - low, 0) - max(high - whigh, 0)
            low, high = low + shift, high + shift
        if axis == 0:
            x0, x1 = low, high
        else:
            y0, y1 = low, high
    return x0, y0, x1, y1


def render_plan(data: MapData, *, stops=None, cells: dict[int, MapCell] | None = None, target: int | None = None,
                zone: str | None = None, fill: bool = False, crop: bool = False) -> str:
    """The plan's map as SVG text; the arguments as server.web.warehouse_map.render's."""
    layout = data.layout
    plan = layout.plan
    cells = cells or {}
    route = [cells[s.cell_ids[0]] for s in stops or () if s.cell_ids and s.cell_ids[0] in cells]
    points = [layout.point(c.aisle, c.block, c.slot) for c in route]
    target_cell = cells.get(target) if target is not None else None
    target_point = layout.point(target_cell.aisle, target_cell.block, target_cell.slot) if target_cell else None
    halls = plan.halls()
    whole = _box([xy for hall in halls for xy in hall["corners"]] + list(plan.graph.nodes))
    walk = [tuple(v) for v in polyline(layout, points)] if points else []
    if crop and (walk or target_point is not None):
        marked = walk + ([(target_point.x, target_point.y)] if target_point is not None else [])
        marked += [plan.graph.xy(plan.points[code]) for code in (data.start, data.drop) if code in plan.points]
        box = _widen(_box(marked), MIN_VIEW_M, whole)
    else:
        box = whole
    canvas = PlanCanvas(box)
    canvas.add("rect", class_="floor", x=canvas.x0, y=0.0, width=canvas.width, height=canvas.y1 - canvas.y0,
               fill=PAPER)
    _draw_halls(canvas, halls)
    _draw_racks(canvas, data, zone, fill)
    _draw_edges(canvas, plan.graph)
    _draw_aisle_labels(canvas, data)
    if walk:
        canvas.add("polyline", class_="path", points=" ".join(canvas.xy(v) for v in walk), fill="none",
                   stroke=ACCENT, stroke_width=canvas.text * 0.3, stroke_linejoin="round", stroke_linecap="round")
    if target_point is not None:
        _draw_target(canvas, target_cell, target_point)
    _draw_points(canvas, data)
    for number, (point, cell) in enumerate(zip(points, route, strict=True), start=1):
        _draw_stop(canvas, number, point, cell, cell.id == target)
    if target_cell is not None:
        title = _("Warehouse %(code)s: go to %(cell)s", code=data.warehouse, cell=target_cell.address)
    else:
        title = _("Warehouse %(code)s", code=data.warehouse)
    return canvas.svg(title)


def _draw_halls(canvas: PlanCanvas, halls: list[dict]) -> None:
    for hall in halls:
        corners = hall["corners"]
        canvas.add("polygon", class_="hall", points=" ".join(canvas.xy(c) for c in corners), fill=HALL_FILL,
                   stroke=HALL_LINE, stroke_width=canvas.text * 0.15, data_hall=hall["code"])
        cx = sum(c[0] for c in corners) / len(corners)
        cy = sum(c[1] for c in corners) / len(corners)
        canvas.label(cx, cy, hall["code"], size=canvas.text * 2.5, class_="hall-label", fill="#d4d8de",
                     font_weight="bold")


def _draw_racks(canvas: PlanCanvas, data: MapData, zone: str | None, fill: bool) -> None:
    """A rack per aisle, block and side, coloured by the cell faces standing in it."""
    faces: dict[tuple[int, int, str], list] = {}
    for face in data.faces:
        faces.setdefault((data.aisle_numbers[face.aisle], face.block + 1, face.side), []).append(face)
    plan = data.layout.plan
    slots_of = {n: plan.hall(plan.hall_of(n)).slots for n in plan.aisle_numbers}
    for rack in plan.racks():
        here = faces.get((rack["aisle"], rack["block"], rack["side"]), [])
        if not here:
            continue
        # A rack as long as its faces reach (an area may have fewer bays than its hall).
        reach = (max(f.slot for f in here) + 1) / slots_of[rack["aisle"]]
        c0, c1, c2, c3 = rack["corners"]
        corners = [c0, c1, _towards(c1, c2, reach), _towards(c0, c3, reach)]
        cells = sum(f.cells for f in here)
        stocked = sum(f.stocked for f in here)
        zones = sorted({f.zone for f in here})
        merged = Face(here[0].aisle, here[0].block, 0, rack["side"], zones[0], cells, stocked)
        colour = face_colour(merged, zone is None or zone in zones, fill)
        canvas.add("polygon", class_="rack", points=" ".join(canvas.xy(c) for c in corners), fill=colour,
                   data_aisle=rack["aisle"], data_block=rack["block"], data_side=rack["side"],
                   data_zone=" ".join(zones), data_cells=cells, data_stocked=stocked)


def _towards(a, b, share: float) -> tuple[float, float]:
    return (a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share)


def _draw_edges(canvas: PlanCanvas, graph) -> None:
    width = canvas.text * 0.12
    for index, ((u, v, oneway), length) in enumerate(zip(graph.edges, graph.lengths, strict=True)):
        (x1, y1), (x2, y2) = graph.nodes[u], graph.nodes[v]
        canvas.add("line", class_="edge oneway" if oneway else "edge", x1=x1, y1=canvas.y(y1), x2=x2,
                   y2=canvas.y(y2), stroke=ONEWAY if oneway else EDGE, stroke_width=width * (1.5 if oneway else 1),
                   data_edge=index)
        if oneway and length > 0:
            _draw_arrows(canvas, (x1, y1), (x2, y2), length, index)


def _draw_arrows(canvas: PlanCanvas, a, b, length: float, edge: int) -> None:
    """Arrowheads along a one-way edge, pointing its way: one every few metres, at least one."""
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    size = canvas.text * 0.7
    count = max(1, int(length // (size * 6)))
    for k in range(count):
        t = (k + 0.5) / count * length
        tip = (a[0] + ux * (t + size / 2), a[1] + uy * (t + size / 2))
        back = (a[0] + ux * (t - size / 2), a[1] + uy * (t - size / 2))
        left = (back[0] - uy * size / 2, back[1] + ux * size / 2)
        right = (back[0] + uy * size / 2, back[1] - ux * size / 2)
        canvas.add("polygon", class_="oneway-arrow", points=" ".join(canvas.xy(p) for p in (tip, left, right)),
                   fill=ONEWAY, data_edge=edge)


def _aisle_ends(layout, aisle: int):
    """The pick points of an aisle's first and last slot (its rack may span only some blocks)."""
    plan = layout.plan
    number = plan.aisle_numbers[aisle]
    first, last = plan.span(number)
    slots = plan.hall(plan.hall_of(number)).slots
    return layout.point(aisle, first - 1, 0), layout.point(aisle, last - 1, slots - 1)


def _draw_aisle_labels(canvas: PlanCanvas, data: MapData) -> None:
    layout = data.layout
    for i, number in enumerate(data.aisle_numbers):
        first, last = _aisle_ends(layout, i)
        dx, dy = last.x - first.x, last.y - first.y
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        gap = canvas.text * 1.2
        for (x, y), sign in (((first.x, first.y), -1), ((last.x, last.y), 1)):
            canvas.label(x + sign * ux * gap, y + sign * uy * gap, str(number), class_="aisle-label", fill=INK,
                         font_weight="bold", data_aisle=number)


def _draw_target(canvas: PlanCanvas, cell: MapCell, point) -> None:
    side = canvas.text * 1.4
    x, y = point.x, canvas.y(point.y)
    canvas.add("rect", class_="target", x=x - side / 2, y=y - side / 2, width=side, height=side, fill=OK,
               stroke=INK, stroke_width=side * 0.08, data_cell=cell.address)
    size = canvas.text
    width = size * 0.62 * len(cell.address) + size
    centre = min(max(x + side + width / 2, canvas.x0 + width / 2), canvas.x1 - width / 2)
    top = y - side / 2 - size * 1.9
    if top < 0:
        top = y + side / 2 + size * 0.4
    canvas.add("rect", class_="target-plate", x=centre - width / 2, y=top, width=width, height=size * 1.5,
               rx=size * 0.3, fill=INK)
    canvas.add("text", cell.address, class_="target-label", x=centre, y=top + size * 1.1, font_size=size,
               text_anchor="middle", font_family="sans-serif", fill=PAPER, font_weight="bold")


def _draw_points(canvas: PlanCanvas, data: MapData) -> None:
    """The named points: where pickers start and drop labelled as such."""
    plan = data.layout.plan
    side = canvas.text * 1.1
    for code, node in sorted(plan.points.items()):
        x, y = plan.graph.xy(node)
        roles = [role for role, at in (("start", data.start), ("drop", data.drop)) if at == code]
        canvas.add("rect", class_="point", x=x - side / 2, y=canvas.y(y) - side / 2, width=side, height=side,
                   fill=INK if roles else HALL_LINE, data_point=code, data_role=" ".join(roles))
        name = (data.point_names or {}).get(code, code)
        words = {"start": _("Start"), "drop": _("Drop")}
        text = " · ".join([*(words[r] for r in roles), name])
        # Below the point, kept inside the drawing.
        width = canvas.text * 0.6 * len(text)
        centre = min(max(x, canvas.x0 + width / 2), canvas.x1 - width / 2)
        below = y - side * 1.4
        if canvas.y(below) > canvas.y1 - canvas.y0 - canvas.text:
            below = y + side * 1.4
        canvas.label(centre, below, text, class_="point-label", fill=INK, font_weight="bold", data_point=code)


def _draw_stop(canvas: PlanCanvas, number: int, point, cell: MapCell, here: bool) -> None:
    radius = canvas.text * 0.75
    x, y = point.x, canvas.y(point.y)
    canvas.parts.append(f'<g class="stop{" current" if here else ""}" data-stop="{number}"'
                        f' data-cell={quoteattr(cell.address)}>')
    canvas.add("title", cell.address)
    canvas.add("circle", cx=x, cy=y, r=radius, fill=OK if here else ACCENT, stroke=PAPER, stroke_width=radius * 0.2)
    canvas.add("text", str(number), x=x, y=y + canvas.text * 0.3, font_size=canvas.text * 0.85, text_anchor="middle",
               font_family="sans-serif", fill=PAPER, font_weight="bold")
    canvas.parts.append("</g>")
