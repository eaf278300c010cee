"""A flame graph as one self-contained SVG string, drawn from a frame tree (stacks.frame_tree).

Layout as in Brendan Gregg's flamegraph.pl ("The Flame Graph", CACM 59(6), 2016): the x axis is the share
of samples (not time), frames of one parent sorted by name, the root at the bottom, each frame as wide as
the samples it was on the stack for; the widest top edges ("plateaus") are where the CPU went. Colours are
a warm hue picked from a hash of the function name, so one function keeps its colour across reports.

Safe to embed: built with xml.etree (all text escaped), characters XML 1.0 forbids replaced, no script, no
external reference; a <title> per frame gives the full name, file and samples as a tooltip.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

from analyzers.profile.stacks import Node

WIDTH_PX = 1200
FRAME_PX = 16
PAD_PX = 10
TITLE_PX = 24
FONT_PX = 11
#: flamegraph.pl's rough width of one character at its default font size, relative to the font size.
CHAR_WIDTH = 0.59
#: Frames narrower than this get no label (flamegraph.pl omits text that would not fit two letters).
MIN_LABEL_PX = 20

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` with every character XML 1.0 does not allow (control characters, lone surrogates from
    undecodable file names, U+FFFE/U+FFFF) replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _colour(name: str) -> str:
    h = hashlib.blake2b(name.encode("utf-8", "replace"), digest_size=3).digest()
    return f"rgb({205 + h[0] % 50},{h[1] % 230},{h[2] % 55})"


def _label(node: Node) -> str:
    return f"{node[0]} ({node[1]})" if node[1] else str(node[0])


def render(tree: Node, title: str) -> str:
    """The SVG document (UTF-8 text, starting with ``<svg``) for a frame tree; an empty profile draws an
    empty graph that says so. Size grows with the tree's node count, which frame_tree bounds."""
    total = tree[2] or 0
    depth = _depth(tree)
    height = TITLE_PX + PAD_PX * 2 + FRAME_PX * max(depth, 1)
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "version": "1.1",
                             "width": str(WIDTH_PX), "height": str(height),
                             "viewBox": f"0 0 {WIDTH_PX} {height}", "font-family": "Verdana, sans-serif",
                             "font-size": str(FONT_PX)})
    ET.SubElement(svg, "rect", {"width": "100%", "height": "100%", "fill": "#f8f8f0"})
    head = ET.SubElement(svg, "text", {"x": str(WIDTH_PX // 2), "y": str(TITLE_PX - 6), "text-anchor": "middle",
                                       "font-size": str(FONT_PX + 3)})
    head.text = xml_text(title if total else f"{title}: no samples")
    if total:
        scale = (WIDTH_PX - 2 * PAD_PX) / total
        base_y = height - PAD_PX - FRAME_PX
        _draw(svg, tree, PAD_PX, base_y, scale, total)
    return ET.tostring(svg, encoding="unicode")


def _depth(node: Node) -> int:
    return 1 + max((_depth(c) for c in node[3]), default=0)


def _draw(svg: ET.Element, node: Node, x: float, y: float, scale: float, total: int) -> None:
    width = node[2] * scale
    g = ET.SubElement(svg, "g")
    tip = ET.SubElement(g, "title")
    tip.text = xml_text(f"{_label(node)}: {node[2]} samples ({node[2] / total:.1%})")
    ET.SubElement(g, "rect", {"x": f"{x:.1f}", "y": f"{y:.0f}", "width": f"{max(width - 0.5, 0.1):.1f}",
                              "height": str(FRAME_PX - 1), "fill": _colour(str(node[0])), "rx": "2"})
    if width >= MIN_LABEL_PX:
        chars = int((width - 6) / (FONT_PX * CHAR_WIDTH))
        name = str(node[0])
        text = name if len(name) <= chars else name[: max(chars - 2, 1)] + ".."
        label = ET.SubElement(g, "text", {"x": f"{x + 3:.1f}", "y": f"{y + FRAME_PX - 4:.0f}"})
        label.text = xml_text(text)
    child_x = x
    for child in node[3]:
        _draw(svg, child, child_x, y - FRAME_PX, scale, total)
        child_x += child[2] * scale
