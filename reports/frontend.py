"""How the front-end figures were obtained, in words, for report.html and report.md: the bundler's config
file the advice edits, whether package sizes are minified (through source maps) or before minification
(webpack stats), and which FE008 image sizes were encoded and which estimated.

Pure functions of report.json's dicts (findings as Finding.to_dict(), coverage["frontend"] as
analyzers.frontend.analyze writes it); they return plain text, escaped by each renderer.
"""

from __future__ import annotations

from typing import Any

MINIFIED = "minified (source maps)"
BEFORE_MINIFICATION = "before minification (webpack stats)"

#: FE008 images[].measure → how the WebP/AVIF figure was obtained (analyzers/frontend/images.measure).
IMAGE_MEASURES = {
    "encoded": "measured (the whole image encoded)",
    "sampled": "estimated from a sample (a mosaic of the image encoded, scaled by pixel count)",
    "model": "estimated from the size model (the ratio measured on this build's other images, past the "
             "encoding time cap)",
}


#: The same, in a table cell.
IMAGE_MEASURES_SHORT = {"encoded": "measured", "sampled": "estimated (sample)", "model": "estimated (size model)"}


def size_basis(measured: Any) -> str:
    """The label of a package size: MINIFIED when `minified_measured` is true, else BEFORE_MINIFICATION."""
    return MINIFIED if measured else BEFORE_MINIFICATION


def image_measure(measure: Any, short: bool = False) -> str:
    """"sampled" → "estimated from a sample (…)" (short: "estimated (sample)"); an unknown value as itself."""
    return (IMAGE_MEASURES_SHORT if short else IMAGE_MEASURES).get(str(measure), str(measure))


def _measured_flags(ev: dict[str, Any]) -> list[bool]:
    flags = []
    if "minified_measured" in ev:
        flags.append(bool(ev["minified_measured"]))
    for key in ("packages", "largest_packages", "elements"):
        rows = ev.get(key)
        if isinstance(rows, list):
            flags += [bool(r["minified_measured"]) for r in rows if isinstance(r, dict) and "minified_measured" in r]
    return flags


def finding_lines(f: dict[str, Any], with_file: bool = True) -> list[str]:
    """Sentences saying how a front-end finding's figures were obtained and (with_file; report.html shows
    action.file above the snippet already) which file its change goes in; [] for other areas."""
    if f.get("area") != "frontend":
        return []
    ev = f.get("evidence") or {}
    out = []
    flags = _measured_flags(ev)
    if flags:
        if all(flags):
            out.append(f"Package sizes: {MINIFIED}, measured.")
        elif not any(flags):
            out.append(f"Package sizes: {BEFORE_MINIFICATION}; the minified size shown is estimated.")
        else:
            out.append(f"Package sizes: {sum(flags)} {MINIFIED}, {len(flags) - sum(flags)} "
                       f"{BEFORE_MINIFICATION} (their minified size is estimated).")
    images = ev.get("images")
    if isinstance(images, list) and images:
        counts: dict[str, int] = {}
        for r in images:
            if isinstance(r, dict):
                counts[str(r.get("measure") or "encoded")] = counts.get(str(r.get("measure") or "encoded"), 0) + 1
        parts = [f"{n} {image_measure(k)}" for k, n in sorted(counts.items(), key=lambda kv: kv[0] != "encoded")]
        out.append("WebP/AVIF sizes: " + "; ".join(parts) + ".")
    act = f.get("action") or {}
    if with_file and act.get("file"):
        out.append(f"The change goes in {act['file']}.")
    return out


def coverage_lines(cov: dict[str, Any]) -> list[str]:
    """Sentences for the front-end coverage: bundler, its config file, and what the package sizes are."""
    b = cov.get("bundle") if isinstance(cov, dict) else None
    if not isinstance(b, dict):
        return []
    bundler = b.get("bundler") or {}
    name = f"{bundler.get('name')} {bundler.get('version') or '(version unknown)'}"
    config = bundler.get("config_file")
    out = [f"Bundler: {name}; config file: {config}." if config else
           f"Bundler: {name}; its config file was not found next to the build."]
    if bundler.get("tsconfig"):
        out.append(f"TypeScript: {bundler['tsconfig']} (module: {bundler.get('ts_module') or 'not set'}).")
    rows = b.get("largest_packages")
    if isinstance(rows, list) and rows:
        flags = [bool(r.get("minified_measured")) for r in rows if isinstance(r, dict)]
        if all(flags):
            out.append(f"Package sizes: {MINIFIED}.")
        elif not any(flags):
            out.append(f"Package sizes: {BEFORE_MINIFICATION}; minified sizes are estimated from the chunk's "
                       "minified/unminified ratio.")
        else:
            out.append(f"Package sizes: {MINIFIED} for {sum(flags)}, {BEFORE_MINIFICATION} for "
                       f"{len(flags) - sum(flags)}.")
    return out
