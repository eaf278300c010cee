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
