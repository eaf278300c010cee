"""Measure what a built raster image would weigh as WebP and AVIF, by re-encoding it with Pillow.

Lighthouse's "Serve images in modern formats" audit estimates the same saving (it re-encodes at quality
0.85 in the browser); here the files are really encoded: WebP at quality WEBP_QUALITY, AVIF at quality
AVIF_QUALITY. Only PNG/JPEG/GIF/BMP/TIFF files of at least MIN_IMAGE_BYTES are encoded (smaller ones cannot
reach the saving threshold of rule FE008).

Speed (encoding dominated whole runs on real builds): an image above SAMPLE_MAX_PIXELS is measured on a
mosaic of SAMPLE_TILES tiles taken across it and the bytes scaled by pixel count ("sampled"); once a build's
images have used Budget.seconds of encoding, the rest get the mean measured ratio of their kind
("model"). Every size says how it was obtained (BuiltFile.modern_measure).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

# Lighthouse modern-image-formats: WebP estimated at quality 0.85.
WEBP_QUALITY = 85
# Pillow's AVIF default quality (75), a visually comparable setting to WebP 85 for photos.
AVIF_QUALITY = 75
# Lighthouse ignores savings below 8 KiB (IGNORE_THRESHOLD_IN_BYTES = 8192); a smaller file cannot save more.
MIN_IMAGE_BYTES = 8192
RASTER_EXT = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff")
# Above this many pixels an image is measured on a sample (perfadvisor's convention: AVIF at Pillow's default
# speed took 1.0-1.3 s for a 1024×1024 mosaic on 2 cores and 0.3-0.8 s for 512×512, benchmarks/frontend_whole.py;
# a 384×384 mosaic of 9 tiles; the test suite checks the sampled estimate against a full encode).
SAMPLE_MAX_PIXELS = 147_456
SAMPLE_TILE = 128
SAMPLE_TILES = 9
# Seconds of encoding per build before the remaining images get the size model (perfadvisor's convention,
# from issue 16's "whole analysis under 5 s" target; measure_order takes the largest image of each kind first,
# so the model has a measured ratio of every kind).
IMAGE_TIME_BUDGET_S = 0.5


@dataclass
class Budget:
    """Encoding time left for one build, and the measured WebP/AVIF-to-original ratios per file kind (the
    size model for images met after the budget is spent)."""

    # read when a Budget is made, so a test (or a caller) can change IMAGE_TIME_BUDGET_S
    seconds: float = field(default_factory=lambda: IMAGE_TIME_BUDGET_S)
    used: float = 0.0
    ratios: dict[str, list[tuple[float | None, float | None]]] = field(default_factory=dict)

    def spent(self, kind: str | None = None) -> bool:
        """True once `seconds` are used; for a `kind` with no measured ratio yet, only at twice that (one
        more encode, so the model does not apply a PNG's ratio to a JPEG)."""
        if kind is not None and kind not in self.ratios:
            return self.used >= 2 * self.seconds
        return self.used >= self.seconds


def _kind(path: Path) -> str:
    ext = path.suffix.lower()
    return "jpeg" if ext in (".jpg", ".jpeg") else ext.lstrip(".")


def _mosaic(im):
    """A square mosaic of SAMPLE_TILES tiles taken on a grid across `im` (same mode)."""
    from PIL import Image

    n = int(SAMPLE_TILES ** 0.5)
    out = Image.new(im.mode, (n * SAMPLE_TILE, n * SAMPLE_TILE))
    w, h = im.size
    for i in range(n):
        for j in range(n):
            x = (w - SAMPLE_TILE) * i // max(1, n - 1)
            y = (h - SAMPLE_TILE) * j // max(1, n - 1)
            out.paste(im.crop((x, y, x + SAMPLE_TILE, y + SAMPLE_TILE)), (i * SAMPLE_TILE, j * SAMPLE_TILE))
    return out


def measure(path: Path, budget: Budget | None = None) -> tuple[int | None, int | None, str | None]:
    """(webp_bytes, avif_bytes, how) of the image at `path`: how is "encoded" (the whole image), "sampled"
    (a mosaic, scaled by pixel count) or "model" (the budget was spent: the mean ratio measured on this
    build's images of the same kind); (None, None, None) when not measured."""
    if not path.name.lower().endswith(RASTER_EXT) or path.stat().st_size < MIN_IMAGE_BYTES:
        return None, None, None
    budget = budget if budget is not None else Budget(seconds=float("inf"))
    raw = path.stat().st_size
    kind = _kind(path)
    if budget.spent(kind):
        seen = budget.ratios.get(kind) or [r for rs in budget.ratios.values() for r in rs]
        if not seen:
            return None, None, None
        out = []
        for k in (0, 1):
            vals = [r[k] for r in seen if r[k] is not None]
            out.append(int(raw * sum(vals) / len(vals)) if vals else None)
        return out[0], out[1], "model"
    t0 = time.monotonic()
    try:
        from PIL import Image
    except ImportError:
        return None, None, None
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("RGB", "RGBA"):
                im = im.convert("RGBA" if "A" in im.getbands() or im.mode == "P" else "RGB")
            pixels = im.size[0] * im.size[1]
            how, scale = "encoded", 1.0
            if pixels > SAMPLE_MAX_PIXELS and min(im.size) >= SAMPLE_TILE:
                im = _mosaic(im)
                how, scale = "sampled", pixels / (im.size[0] * im.size[1])
            sizes = []
            for fmt, quality in (("WEBP", WEBP_QUALITY), ("AVIF", AVIF_QUALITY)):
                buf = io.BytesIO()
                try:
                    im.save(buf, fmt, quality=quality)
                    sizes.append(int(buf.tell() * scale))
                except (KeyError, OSError, ValueError):
                    sizes.append(None)
    except (OSError, ValueError, SyntaxError):
        return None, None, None
    finally:
        budget.used += time.monotonic() - t0
    budget.ratios.setdefault(kind, []).append(tuple(x / raw if x else None for x in sizes))
    return sizes[0], sizes[1], how


def measure_order(items: list[tuple[Path, int]]) -> list[int]:
    """Indexes of `items` ((path, bytes)) in the order to measure them: largest first within each file kind,
    the kinds taken in turn, so that the time cap leaves a measured ratio of every kind for the size model
    and the images that weigh most are the ones measured."""
    by_kind: dict[str, list[int]] = {}
    for i, (path, _size) in sorted(enumerate(items), key=lambda t: (-t[1][1], t[1][0].as_posix())):
        by_kind.setdefault(_kind(path), []).append(i)
    queues = sorted(by_kind.values(), key=lambda q: -items[q[0]][1])
    out: list[int] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def modern_sizes(path: Path) -> tuple[int | None, int | None]:
    """(webp_bytes, avif_bytes) of the image at `path` (measure() without a time budget)."""
    webp, avif, _ = measure(path)
    return webp, avif
