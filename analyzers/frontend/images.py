"""Measure what a built raster image would weigh as WebP and AVIF, by re-encoding it with Pillow.

Lighthouse's "Serve images in modern formats" audit estimates the same saving (it re-encodes at quality
0.85 in the browser); here the files are really encoded: WebP at quality WEBP_QUALITY, AVIF at quality
AVIF_QUALITY. Only PNG/JPEG/GIF/BMP/TIFF files of at least MIN_IMAGE_BYTES are encoded (smaller ones cannot
reach the saving threshold of rule FE008).
"""

from __future__ import annotations

import io
from pathlib import Path

# Lighthouse modern-image-formats: WebP estimated at quality 0.85.
WEBP_QUALITY = 85
# Pillow's AVIF default quality (75), a visually comparable setting to WebP 85 for photos.
AVIF_QUALITY = 75
# Lighthouse ignores savings below 8 KiB (IGNORE_THRESHOLD_IN_BYTES = 8192); a smaller file cannot save more.
MIN_IMAGE_BYTES = 8192
RASTER_EXT = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff")


def modern_sizes(path: Path) -> tuple[int | None, int | None]:
    """(webp_bytes, avif_bytes) of the image at `path`, each None when Pillow (or its codec) cannot encode
    it or the file is not a raster image worth measuring."""
    if not path.name.lower().endswith(RASTER_EXT) or path.stat().st_size < MIN_IMAGE_BYTES:
        return None, None
    try:
        from PIL import Image
    except ImportError:
        return None, None
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("RGB", "RGBA"):
                im = im.convert("RGBA" if "A" in im.getbands() or im.mode == "P" else "RGB")
            sizes = []
            for fmt, quality in (("WEBP", WEBP_QUALITY), ("AVIF", AVIF_QUALITY)):
                buf = io.BytesIO()
                try:
                    im.save(buf, fmt, quality=quality)
                    sizes.append(buf.tell())
                except (KeyError, OSError, ValueError):
                    sizes.append(None)
            return sizes[0], sizes[1]
    except (OSError, ValueError, SyntaxError):
        return None, None
