"""What both warehouse maps (the rectangular grid's and a building plan's) draw with: the palette,
the text size against the drawing's width and SVG attribute writing."""

from xml.sax.saxutils import escape, quoteattr

# Width in CSS pixels the text is made legible for, and the text height there.
SCREEN_PX = 340
TEXT_PX = 13
INK, PAPER, ACCENT, OK = "#1a1a1a", "#ffffff", "#0b57d0", "#1e7d32"
FACE, FACE_DIM = "#c9ced6", "#eceff3"
# Cell fill by the share of a face's cells holding stock: empty .. full.
FILL = ("#e8f0e8", "#b7d7b9", "#7fbf84", "#3f9a47")


def fill_colour(face) -> str:
    if not face.cells or not face.stocked:
        return FILL[0]
    share = face.stocked / face.cells
    return FILL[1] if share < 0.34 else FILL[2] if share < 0.67 else FILL[3]


def face_colour(face, in_zone: bool, fill: bool) -> str:
    """A face's (or rack's) colour: by stock with `fill`, dimmed outside the zone shown."""
    return (fill_colour(face) if fill else FACE) if in_zone else FACE_DIM


def attrs(**given) -> str:
    return "".join(f" {key.rstrip('_').replace('_', '-')}={quoteattr(str(value))}" for key, value in given.items())


def fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


class Drawing:
    """An SVG drawing made of parts; text sized `text` (metres of the drawing)."""

    classes = "wh-map"

    def __init__(self, text: float):
        self.text = text
        self.parts: list[str] = []

    def add(self, tag: str, text: str | None = None, **given) -> None:
        shown = {k: fmt(v) if isinstance(v, float) else v for k, v in given.items()}
        if text is None:
            self.parts.append(f"<{tag}{attrs(**shown)}/>")
        else:
            self.parts.append(f"<{tag}{attrs(**shown)}>{escape(text)}</{tag}>")

    def centred(self, x: float, svg_y: float, text: str, size: float | None = None, **given) -> None:
        """Text centred on (x, svg_y) in SVG coordinates."""
        size = size or self.text
        self.add("text", text, x=x, y=svg_y + size * 0.35, font_size=size, text_anchor="middle",
                 font_family="sans-serif", **given)

    def document(self, title: str, x0: float, width: float, height: float) -> str:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="{self.classes}" role="img"'
                f' viewBox="{fmt(x0)} 0 {fmt(width)} {fmt(height)}"'
                f' preserveAspectRatio="xMidYMin meet" aria-label={quoteattr(title)}>')
        return head + f"<title>{escape(title)}</title>" + "".join(self.parts) + "</svg>"
