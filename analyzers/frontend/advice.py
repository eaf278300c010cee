"""Config and code changes written for the user's bundler and its version.

- Vite before 8 (Rollup): `build.rollupOptions.output.manualChunks`
  (https://vite.dev/guide/build#chunking-strategy).
- Vite 8 (Rolldown): `build.rolldownOptions.output.codeSplitting.groups`; `manualChunks` is deprecated
  and ignored when `codeSplitting` is set (https://rolldown.rs/reference/OutputOptions.codeSplitting).
- webpack 4/5: `optimization.splitChunks.cacheGroups` (https://webpack.js.org/plugins/split-chunks-plugin/).
"""

from __future__ import annotations

import re
from typing import Any

from analyzers.frontend.project import config_name


def vite_major(bundler: dict[str, Any]) -> int | None:
    """The major version of Vite from {"name": "vite", "version": "8.4.0"}, else None."""
    if bundler.get("name") != "vite" or not bundler.get("version"):
        return None
    m = re.match(r"(\d+)", str(bundler["version"]))
    return int(m.group(1)) if m else None


def split_packages(bundler: dict[str, Any], groups: dict[str, list[str]]) -> tuple[str, str]:
    """(file, snippet) that puts each group's packages into a chunk of its own.

    `groups`: chunk name → npm package names, e.g. {"moment": ["moment"]}. The file is the app's own config
    (bundler["config_file"], project.config_file) when it was found, else the bundler's default name.
    """
    name = bundler.get("name")
    if name == "webpack":
        lines = []
        for chunk, pkgs in groups.items():
            alt = "|".join(_re(p) for p in pkgs)
            lines.append(f"        {_js_key(chunk)}: {{\n          test: /[\\\\/]node_modules[\\\\/]({alt})[\\\\/]/,\n"
                         f"          name: \"{chunk}\",\n          chunks: \"all\",\n        }},")
        body = "\n".join(lines)
        return config_name(bundler), ("module.exports = {\n  // …\n  optimization: {\n    splitChunks: {\n"
                                     "      chunks: \"all\",\n      cacheGroups: {\n" + body +
                                     "\n      },\n    },\n  },\n};")
    major = vite_major(bundler)
    if major is not None and major < 8:
        lines = []
        for chunk, pkgs in groups.items():
            conds = " || ".join(f"id.includes(\"/node_modules/{p}/\")" for p in pkgs)
            lines.append(f"          if ({conds}) return \"{chunk}\";")
        return config_name(bundler), ("export default defineConfig({\n  build: {\n    rollupOptions: {\n"
                                  "      output: {\n        manualChunks(id) {\n" + "\n".join(lines) +
                                  "\n        },\n      },\n    },\n  },\n});")
    groups_js = []
    for chunk, pkgs in groups.items():
        alt = "|".join(_re(p) for p in pkgs)
        groups_js.append(f"          {{ name: \"{chunk}\", test: /[\\\\/]node_modules[\\\\/]({alt})[\\\\/]/ }},")
    return config_name(bundler), ("// Vite 8 (Rolldown): manualChunks is deprecated; use codeSplitting groups\n"
                              "export default defineConfig({\n  build: {\n    rolldownOptions: {\n"
                              "      output: {\n        codeSplitting: {\n          groups: [\n" +
                              "\n".join("  " + g for g in groups_js) +
                              "\n          ],\n        },\n      },\n    },\n  },\n});")


def _re(name: str) -> str:
    """A package name for a JS regex literal: special characters escaped, `-` left readable, and the `/` of
    a scoped name (which would end the literal) matched as either path separator."""
    return re.escape(name).replace("\\-", "-").replace("/", "[\\\\/]")


def _js_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_$][\w$]*", name) else f"\"{name}\""


def lazy_route(importer: str, specifier: str, component: str) -> str:
    """The React change that loads route `component` lazily instead of importing it statically."""
    ident = re.sub(r"\W", "", component.rsplit("/", 1)[-1].split(".")[0]) or "Page"
    ident = ident[0].upper() + ident[1:]
    return (f"// {importer}\n"
            f"-import {ident} from \"{specifier}\";\n"
            f"+import {{ lazy, Suspense }} from \"react\";\n"
            f"+const {ident} = lazy(() => import(\"{specifier}\"));\n"
            f"\n// and render it inside a Suspense boundary (once, around the routes is enough):\n"
            f"+<Suspense fallback={{<p>Loading…</p>}}>\n   <{ident} />\n+</Suspense>")


def image_tool(bundler: dict[str, Any]) -> str:
    """The build-time image converter of the bundler in use (no Vite plugin in a webpack report)."""
    name = bundler.get("name")
    if name == "vite":
        return f"vite-imagetools or vite-plugin-image-optimizer in {config_name(bundler)}"
    if name == "webpack":
        return f"image-minimizer-webpack-plugin in {config_name(bundler)}"
    return "your build's image step (e.g. sharp or squoosh-cli)"
