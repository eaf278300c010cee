"""Real front-end builds and a real nginx for the front-end analyzer's tests.

Fixture projects (tests/fixtures/vite-app, tests/fixtures/webpack-app) are installed with `npm install` once per
package-lock into a cache directory (PERFADVISOR_FIXTURE_CACHE, default ~/.cache/perfadvisor/fixtures)
and built once per test session into a temporary directory. Build output and node_modules never land in
the repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CACHE = Path(os.environ.get("PERFADVISOR_FIXTURE_CACHE", Path.home() / ".cache" / "perfadvisor" / "fixtures"))
SOURCE_SKIP = ("node_modules", "dist", "build")


def _key(project: Path) -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update((project / name).read_bytes())
    return h.hexdigest()[:12]


def _run(cmd: list[str], cwd: Path, timeout: int = 600) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[:3000]}")


def installed(name: str, src: Path | None = None) -> Path:
    """The fixture project `name` (or the project at `src`) with node_modules installed (cached per
    package.json + package-lock.json)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    src = src or FIXTURES / name
    target = CACHE / f"{name}-{_key(src)}"
    if not (target / "node_modules" / ".package-lock.json").is_file():
        staging = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=CACHE.parent if CACHE.parent.exists() else None))
        shutil.copy2(src / "package.json", staging / "package.json")
        shutil.copy2(src / "package-lock.json", staging / "package-lock.json")
        # `npm install` with the committed lock, not `npm ci`: npm 11's ci rejects locks whose optional
        # platform packages (rolldown's native bindings) differ from this platform's.
        _run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline"], staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(staging), str(target))
    return target


def project_copy(name: str, dest: Path, src: Path | None = None) -> Path:
    """A fresh copy of fixture `name` (or of the project at `src`) at dest: its sources, plus the cached
    node_modules as hard links."""
    src = src or FIXTURES / name
    cached = installed(name, src)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dest, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*SOURCE_SKIP))
    try:
        shutil.copytree(cached / "node_modules", dest / "node_modules", symlinks=True, copy_function=os.link)
    except OSError:  # another filesystem: copy instead
        shutil.rmtree(dest / "node_modules", ignore_errors=True)
        shutil.copytree(cached / "node_modules", dest / "node_modules", symlinks=True)
    return dest


def build(project: Path) -> Path:
    """`npm run build` in `project`; returns its dist/."""
    _run(["npm", "run", "build", "--silent"], project)
    return project / "dist"


def hero_png(path: Path) -> Path:
    """Write an 800×600 photo-like PNG (gradients plus noise, ~600 KB): the heavy image FE008 should find.
    Generated rather than committed, so the repository holds no binary fixture."""
    import random

    from PIL import Image

    rnd = random.Random(1)
    im = Image.new("RGB", (800, 600))
    im.putdata([((x * 255) // 800, (y * 255) // 600, ((x * y) % 256) ^ rnd.randrange(32))
                for y in range(600) for x in range(800)])
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


@pytest.fixture(scope="session")
def vite_project(tmp_path_factory) -> Path:
    """The Vite fixture, installed and built: the project directory (its build is project/dist). A heavy
    PNG is put in public/, which Vite copies into dist/ unchanged."""
    proj = project_copy("vite-app", tmp_path_factory.mktemp("vite") / "app")
    hero_png(proj / "public" / "hero.png")
    build(proj)
    return proj


@pytest.fixture(scope="session")
def webpack_project(tmp_path_factory) -> Path:
    """The webpack 5 fixture, installed and built (project/dist with stats.json)."""
    proj = project_copy("webpack-app", tmp_path_factory.mktemp("webpack") / "app")
    build(proj)
    return proj


@pytest.fixture(scope="session")
def webpack4_project(tmp_path_factory) -> Path:
    """The same app built with webpack 4 (stats.json in webpack 4's shape)."""
    proj = project_copy("webpack4-app", tmp_path_factory.mktemp("webpack4") / "app")
    build(proj)
    return proj


@pytest.fixture(scope="session")
def chart_project(tmp_path_factory) -> Path:
    """The webpack 5 chart.js 2 fixture (config/webpack.prod.js, no source maps), installed and built."""
    proj = project_copy("webpack-chart-app", tmp_path_factory.mktemp("chart") / "app")
    build(proj)
    return proj


_LOADED: dict[str, object] = {}


def loaded(path: Path):
    """load_bundle(path), once per session: the fixture builds are read-only, and measuring (brotli,
    WebP/AVIF) takes a few seconds per read."""
    from analyzers.frontend import load_bundle

    key = str(path)
    if key not in _LOADED:
        _LOADED[key] = load_bundle(path)
    return _LOADED[key]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """A real nginx on a loopback port, with its own prefix, config, pid file and logs in a temp dir."""

    def __init__(self, workdir: Path, root: Path, server_lines: str, http_lines: str = "") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        workdir.mkdir(parents=True, exist_ok=True)
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
            (workdir / d).mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = f"""{user}worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
{http_lines}
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
{server_lines}
    }}
}}
"""
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(self.conf), "-g", "daemon off;"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode()[-2000:]}\n{conf}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start listening within 10 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def nginx_factory(tmp_path):
    """Start nginx servers: nginx_factory(root, server_lines, http_lines="") -> Nginx; stopped at the end."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    started: list[Nginx] = []

    def start(root: Path, server_lines: str, http_lines: str = "") -> Nginx:
        n = Nginx(tmp_path / f"nginx{len(started)}", root, server_lines, http_lines)
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop()


PNPM = ["npx", "-y", "pnpm@9.15.9"]


@pytest.fixture(scope="session")
def pnpm_vite_project(tmp_path_factory) -> Path:
    """tests/fixtures/vite-pnpm-app installed with pnpm (node_modules/.pnpm/name@version layout, two versions
    of is-number) from its committed pnpm-lock.yaml, with the store cached under CACHE, and built with Vite."""
    if shutil.which("npx") is None:
        pytest.skip("npx is not installed")
    src = FIXTURES / "vite-pnpm-app"
    proj = tmp_path_factory.mktemp("pnpm") / "app"
    shutil.copytree(src, proj, ignore=shutil.ignore_patterns(*SOURCE_SKIP))
    CACHE.mkdir(parents=True, exist_ok=True)
    _run([*PNPM, "install", "--frozen-lockfile", "--prefer-offline", "--reporter=silent",
          "--store-dir", str(CACHE / "pnpm-store")], proj)
    _run([*PNPM, "run", "build"], proj)
    return proj


@pytest.fixture(scope="session")
def ts_project(tmp_path_factory) -> Path:
    """tests/fixtures/vite-ts-app (TypeScript, @/ aliases, a barrel, chart.js on one route, a nested route
    subtree), installed and built."""
    proj = project_copy("vite-ts-app", tmp_path_factory.mktemp("ts") / "app")
    build(proj)
    return proj
