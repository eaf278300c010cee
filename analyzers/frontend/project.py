"""What perfadvisor reads from the app's project directory besides the build: the bundler's config file,
so that advice names the file the user really edits (`vite.config.ts`, `config/webpack.prod.js`).

Conventions followed: Vite looks for vite.config.{js,mjs,ts,cjs,mts,cts} in the project root
(https://vite.dev/config/); webpack-cli for webpack.config.{js,cjs,mjs,ts} (https://webpack.js.org/api/cli/
#default-configurations); Create React App ejected and many templates keep production configs as
config/webpack.prod.js, config/webpack.config.js, webpack/webpack.prod.js or build/webpack.prod.conf.js.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

VITE_NAMES = tuple(f"vite.config.{e}" for e in ("ts", "mts", "js", "mjs", "cjs", "cts"))
WEBPACK_NAMES = tuple(f"webpack.config.{e}" for e in ("js", "ts", "cjs", "mjs"))
CONFIG_DIRS = ("config", "webpack", "build", "configs", "scripts")
# a webpack config file by name: webpack.prod.js, webpack.config.prod.js, webpack.prod.conf.js, …
_WEBPACK_FILE = re.compile(r"^webpack[.\w-]*\.(?:js|cjs|mjs|ts)$")
_DEV = re.compile(r"(?:^|[.\-_])(?:dev|development|test|common|base|server)(?:[.\-_]|$)")

# What advice names when no config file is found (the bundler's default name).
DEFAULT_FILE = {"vite": "vite.config.js", "webpack": "webpack.config.js"}


def _prod_first(names: list[str]) -> list[str]:
    """Production configs first, dev/test/common ones last (they are not where a release build is set)."""
    return sorted(names, key=lambda n: (bool(_DEV.search(n.rsplit("/", 1)[-1])),
                                        "prod" not in n.rsplit("/", 1)[-1], n))


def config_file(root: Path | None, bundler: str) -> str | None:
    """The project-relative path of `bundler`'s ("vite" | "webpack") config file under project `root`, or
    None when none is found. Root-level files of the default names come first, then production files in
    the usual config directories."""
    if root is None or not root.is_dir():
        return None
    if bundler == "vite":
        return next((n for n in VITE_NAMES if (root / n).is_file()), None)
    if bundler != "webpack":
        return None
    top = [p.name for p in root.iterdir() if p.is_file() and _WEBPACK_FILE.match(p.name)]
    if top:
        default = [n for n in WEBPACK_NAMES if n in top]
        return default[0] if default else _prod_first(top)[0]
    found = []
    for d in CONFIG_DIRS:
        if (root / d).is_dir():
            found += [f"{d}/{p.name}" for p in (root / d).iterdir() if p.is_file() and _WEBPACK_FILE.match(p.name)]
    return _prod_first(found)[0] if found else None


def config_name(bundler: dict) -> str:
    """The config file advice names for a Bundle.bundler dict: the one found, else the bundler's default."""
    return bundler.get("config_file") or DEFAULT_FILE.get(bundler.get("name") or "", "your bundler's config")


# tsconfig/jsconfig files that may hold compilerOptions.paths (Vite's templates keep them in tsconfig.app.json)
TSCONFIG_NAMES = ("tsconfig.json", "tsconfig.app.json", "jsconfig.json")
_JSONC_COMMENT = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
# `"@": path.resolve(__dirname, "src")`, `'@': fileURLToPath(new URL('./src', import.meta.url))`,
# `{ find: "@", replacement: path.resolve(__dirname, "./src") }` inside a resolve.alias block
_ALIAS_KEY = re.compile(r"""(?:find\s*:\s*)?["']?([@~#$][\w-]*|[A-Za-z][\w-]*)["']?\s*[:,]\s*(?:replacement\s*:\s*)?"""
                        r"""(?:path\.)?(?:resolve|join)\(\s*__dirname\s*,\s*((?:["'][^"']*["']\s*,?\s*)+)\)""")
_ALIAS_URL = re.compile(r"""(?:find\s*:\s*)?["']?([@~#$][\w-]*|[A-Za-z][\w-]*)["']?\s*[:,]\s*(?:replacement\s*:\s*)?"""
                        r"""fileURLToPath\(\s*new\s+URL\(\s*["']([^"']+)["']""")


def _jsonc(text: str) -> Any:
    """tsconfig's JSON with comments and trailing commas (as TypeScript reads it); None when not parseable."""
    import json

    text = _JSONC_COMMENT.sub(lambda m: m.group(1) or "", text)
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text))
    except ValueError:
        return None


def _rel(root: Path, base: Path, target: str) -> str | None:
    """`target` (relative to `base`) as a project-relative directory, or None when outside the project."""
    import posixpath

    joined = posixpath.normpath((base.relative_to(root) / target).as_posix()) if base != root else \
        posixpath.normpath(target)
    return None if joined.startswith("..") else ("" if joined == "." else joined)


def aliases(root: Path | None) -> dict[str, str]:
    """Import path aliases as the compiler and the bundler see them: prefix → project-relative directory
    (`{"@/": "src/"}`), from tsconfig/jsconfig `compilerOptions.paths` (with `baseUrl`;
    https://www.typescriptlang.org/tsconfig/#paths) and the `resolve.alias` block of the bundler config
    (Vite https://vite.dev/config/shared-options#resolve-alias, webpack
    https://webpack.js.org/configuration/resolve/#resolvealias), read lexically. An exact alias `@` is kept
    as the prefix `@/` plus the key `@` itself."""
    out: dict[str, str] = {}
    if root is None or not root.is_dir():
        return out
    for name in TSCONFIG_NAMES:
        try:
            data = _jsonc((root / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        opts = data.get("compilerOptions") if isinstance(data, dict) else None
        if not isinstance(opts, dict) or not isinstance(opts.get("paths"), dict):
            continue
        base = opts.get("baseUrl") if isinstance(opts.get("baseUrl"), str) else "."
        for key, targets in opts["paths"].items():
            if not (isinstance(key, str) and isinstance(targets, list) and targets and isinstance(targets[0], str)):
                continue
            if key.endswith("/*") and targets[0].endswith("/*"):
                rel = _rel(root, root, f"{base}/{targets[0][:-2]}")
                if rel is not None:
                    out.setdefault(key[:-1], (rel + "/") if rel else "")
    for cfg in filter(None, (config_file(root, "vite"), config_file(root, "webpack"))):
        try:
            text = (root / cfg).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        at = text.find("alias")
        if at < 0:
            continue
        block = text[at:at + 2000]
        base = (root / cfg).parent
        found = [(m.group(1), "/".join(re.findall(r"""["']([^"']*)["']""", m.group(2))))
                 for m in _ALIAS_KEY.finditer(block)]
        found += [(m.group(1), m.group(2)) for m in _ALIAS_URL.finditer(block)]
        for key, target in found:
            rel = _rel(root, base, target)
            if rel is None or key in ("find", "replacement"):
                continue
            prefix = key.rstrip("/") + "/"
            out.setdefault(prefix, (rel + "/") if rel else "")
    return out


def ts_module(root: Path | None) -> tuple[str, str] | None:
    """(tsconfig file, its compilerOptions.module lower-cased, e.g. "commonjs") from the project's tsconfig
    (TSCONFIG_NAMES order, JSONC), or None when no tsconfig sets it. One level of `extends` to a local file
    is followed (https://www.typescriptlang.org/tsconfig/#module)."""
    if root is None or not root.is_dir():
        return None
    for name in TSCONFIG_NAMES:
        path = root / name
        for _ in range(2):
            try:
                data = _jsonc(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                break
            if not isinstance(data, dict):
                break
            opts = data.get("compilerOptions")
            if isinstance(opts, dict) and isinstance(opts.get("module"), str):
                return name, opts["module"].lower()
            ext = data.get("extends")
            if not (isinstance(ext, str) and ext.startswith(".")):
                break
            path = (path.parent / ext) if ext.endswith(".json") else (path.parent / (ext + ".json"))
    return None
