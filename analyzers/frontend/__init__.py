"""Front-end analyzer: bundle stats (Vite manifest + dist + source maps, webpack stats.json, a directory of
built files) and the cache/compression headers of the running front end.

Where data comes from: vite.py, webpack.py, dist.py (files, sizes, source maps via sourcemaps.py, imports
via imports.py), headers.py (HTTP probe). What is concluded: rules.py (FE…), cdn.py (CDN…), diff.py.

Snapshot section (`collect`): {"bundle": Bundle.to_dict() | None, "baseline": Bundle.to_dict() | None,
"headers": headers.probe(...) | None}. Targets (settings.target("frontend")): bundle (path), url,
baseline (path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.config import Settings
from advisor.errors import InputFileError, PerfadvisorError
from analyzers.frontend import cdn, diff, headers, rules
from analyzers.frontend.model import Bundle, package_uses, shown_path

AREA = "frontend"

#: (name, default, source) of every threshold, shown by `perfadvisor thresholds`; set them in
#: perfadvisor.toml under [thresholds.frontend].
THRESHOLDS = (
    ("initial_js_budget_gzip_bytes", 170_000, "Alex Russell, 'Can You Afford It?' (2017); web.dev budgets"),
    ("min_split_saving_gzip_bytes", 14_600, "one initial TCP congestion window, 10 × 1460 B (RFC 6928)"),
    ("duplicate_medium_bytes", 10_000, "perfadvisor's convention"),
    ("chunk_warning_bytes", 500_000, "the bundler's own warning limit (Vite/webpack default 500 kB)"),
    ("tree_shaking_min_bytes", 10_000, "perfadvisor's convention"),
    ("context_module_min_bytes", 10_000, "perfadvisor's convention"),
    ("image_min_saving_bytes", 8192, "Lighthouse IGNORE_THRESHOLD_IN_BYTES"),
    ("immutable_min_max_age_s", 31_536_000, "one year with immutable (RFC 9111, RFC 8246)"),
    ("compress_min_saving_bytes", 1_400, "Lighthouse uses-text-compression IGNORE_THRESHOLD_IN_BYTES"),
    ("precompress_min_bytes", 1_024, "perfadvisor's convention (nginx gzip_min_length examples)"),
)


def load_bundle(path: str | Path, compress: bool = True) -> Bundle:
    """Read any supported build, detected from what `path` holds:

    - a Vite dist/ (.vite/manifest.json or manifest.json), or a project directory with such a dist/;
    - a webpack stats.json (or a directory holding stats.json, bundle-stats.json, build/bundle-stats.json);
    - a Vite manifest file itself;
    - a directory of built JS/CSS files with source maps (also when its manifest.json is a PWA web app
      manifest or it holds Create React App's asset-manifest.json: recognised by shape, and noted).

    Raises InputFileError naming the path when it does not exist or holds none of these.
    """
    return _with_config_file(_load(Path(path), compress))


def _with_config_file(bundle: Bundle) -> Bundle:
    """The bundle with bundler["config_file"] (the app's own config file, project-relative, so advice names
    it: project.config_file) and bundler["tsconfig"], ["ts_module"] (project.ts_module); each left out when
    not found."""
    import dataclasses

    from analyzers.frontend import dist, project

    src = Path(bundle.source)
    root = dist.project_root(src.parent if src.is_file() else src)
    found = project.config_file(root, str(bundle.bundler.get("name")))
    extra: dict[str, Any] = {"config_file": found} if found else {}
    ts = project.ts_module(root)
    if ts:
        extra.update(tsconfig=ts[0], ts_module=ts[1])
    if not extra:
        return bundle
    return dataclasses.replace(bundle, bundler={**bundle.bundler, **extra})


def _load(p: Path, compress: bool) -> Bundle:
    from analyzers.frontend import dist, vite, webpack

    if not p.exists():
        raise InputFileError(f"bundle {p}: no such file or directory")
    if p.is_file():
        if p.name == "manifest.json" and p.parent.name == ".vite":
            return vite.read_vite(p.parent.parent, compress)
        if p.name in ("manifest.json", "asset-manifest.json", "manifest.webmanifest"):
            if p.name == "manifest.json" and vite.find_manifest(p.parent) == p:
                return vite.read_vite(p.parent, compress)
            return dist.read_files(p.parent, compress, tuple(vite.other_manifests(p.parent)))
        if p.suffix == ".json":
            return webpack.read_stats(p, compress)
        raise InputFileError(f"bundle {p}: expected a webpack stats .json, a Vite manifest.json or a build "
                             "directory")
    if vite.find_manifest(p):
        return vite.read_vite(p, compress)
    for name in ("stats.json", "bundle-stats.json", "build/bundle-stats.json", "dist/stats.json"):
        if (p / name).is_file():
            return webpack.read_stats(p / name, compress)
    for sub in ("dist", "build"):
        if (p / sub).is_dir() and vite.find_manifest(p / sub):
            return vite.read_vite(p / sub, compress)
    if any(p.rglob("*.js")):
        return dist.read_files(p, compress, tuple(vite.other_manifests(p)))
    raise InputFileError(f"bundle {p}: no Vite manifest, webpack stats.json or built .js files found in it")


def configured(settings: Settings) -> str | None:
    """None when a bundle path or a URL is configured, else the reason the front end is skipped."""
    t = settings.target(AREA)
    if t.get("bundle") or t.get("url"):
        return None
    return "not configured (give --bundle PATH and/or --frontend-url URL, or [targets.frontend])"


def collect(settings: Settings) -> dict[str, Any]:
    """The snapshot section. Raises InputFileError for an unreadable build and TargetError for a URL that
    is not loopback or does not answer (when no bundle is given; with a bundle the probe error is kept in
    the section and reported as a note)."""
    t = settings.target(AREA)
    section: dict[str, Any] = {"bundle": None, "baseline": None, "headers": None}
    bundle = None
    if t.get("bundle"):
        bundle = load_bundle(t["bundle"])
        section["bundle"] = bundle.to_dict()
    if t.get("baseline"):
        section["baseline"] = load_bundle(t["baseline"]).to_dict()
    if t.get("url"):
        timeout = float(t.get("timeout_s", headers.DEFAULT_TIMEOUT_S))
        if bundle is None:
            section["headers"] = headers.probe(t["url"], None, timeout)
        else:
            try:
                section["headers"] = headers.probe(t["url"], bundle, timeout)
            except PerfadvisorError as e:  # keep the bundle analysis, say what failed, exit 2 at the end
                section["headers"] = {"url": t["url"], "status": "error", "error": str(e)}
                section["errors"] = [str(e)]
    return section


def target_info(section: dict[str, Any]) -> dict[str, Any]:
    """report.json's targets.frontend: bundle path (model.shown_path: no absolute build-machine path),
    bundler and version, the bundler's config file, initial JS gzip bytes, chunk count, probed URL (and the
    probe's error, if it failed)."""
    info: dict[str, Any] = {}
    if section.get("bundle"):
        b = Bundle.from_dict(section["bundle"])
        info["bundle"] = shown_path(b.source)
        info["bundler"] = f"{b.bundler.get('name')} {b.bundler.get('version') or '(version unknown)'}"
        if b.bundler.get("config_file"):
            info["config_file"] = b.bundler["config_file"]
        info["initial_js_gzip_bytes"] = rules.initial_gzip(b)[0]
        info["chunks"] = len(b.chunks)
    if section.get("headers"):
        info["url"] = section["headers"].get("url")
        if section["headers"].get("status") == "error":
            info["probe_error"] = section["headers"].get("error")
    return info


def _route_row(bundle: Bundle, route) -> dict[str, Any]:
    """A route for the report: its chunk named by file (rules.chunk_name), as the user sees it in dist/."""
    row = route.to_dict()
    c = bundle.chunk(route.chunk) if route.chunk else None
    if c is not None:
        row["chunk"] = rules.chunk_name(c)
    return row


def _largest_packages(bundle: Bundle, n: int = 15) -> list[dict[str, Any]]:
    """The n largest packages: minified bytes, measured through source maps or, from webpack stats sizes
    (before minification), estimated (minified_measured False; bytes_before_minification kept)."""
    from analyzers.frontend import graph

    factor = graph.minified_factor(bundle)
    rows = []
    for u in package_uses(bundle)[:n]:
        mods = [m for m in bundle.modules if m.package_path == u.install_path]
        size, exact = graph.shipped_bytes(bundle, mods, factor)
        row = {"package": u.name, "version": u.version, "install_path": u.install_path, "minified_bytes": size,
               "minified_measured": exact}
        if not exact:
            row["bytes_before_minification"] = u.bytes
        rows.append(row)
    return rows


def analyze(section: dict[str, Any], settings: Settings):
    """FE rules on the bundle, CDN rules on the probe, and the diff against the baseline (in coverage and
    a note): a pure function of the snapshot section; returns advisor.pipeline.AreaResult."""
    from advisor.pipeline import AreaResult

    result = AreaResult()
    bundle = Bundle.from_dict(section["bundle"]) if section.get("bundle") else None
    if bundle is not None:
        result.findings.extend(rules.run(bundle, settings))
        result.notes.extend(bundle.notes)
        result.notes.extend(rules.notes(bundle, settings))
        result.coverage["bundle"] = {
            "bundler": bundle.bundler, "chunks": len(bundle.chunks),
            "initial_js_gzip_bytes": rules.initial_gzip(bundle)[0],
            "modules_attributed": sum(1 for m in bundle.modules if m.measure == "sourcemap"),
            "routes": [_route_row(bundle, r) for r in bundle.routes],
            "largest_packages": _largest_packages(bundle)}
    if section.get("baseline") and bundle is not None:
        d = diff.diff(Bundle.from_dict(section["baseline"]), bundle)
        result.coverage["bundle_diff"] = d
        result.notes.append(diff.one_line(d))
    h = section.get("headers")
    if h:
        if h.get("status") == "error":
            result.notes.append(f"front-end headers not probed: {h.get('error')}")
        else:
            result.findings.extend(cdn.run(h, settings))
    return result
