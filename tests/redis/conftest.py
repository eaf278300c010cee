"""Real redis-server processes for the Redis analyzer's tests (ports 31600-31699), with data written here.

- `redis_data` (31600): a keyspace of Spring-style cache keys with and without TTLs, data keys, a stream, big
  keys, binary key names, and ACL users that lack INFO, CONFIG, MEMORY or some keys;
- `redis_auth` (31601): requirepass;
- `redis_tls` (31602): TLS only, with a CA and server certificate made here with openssl;
- `redis_server` factory: a fresh server per test on its own port (faults, eviction settings).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

PORT_DATA, PORT_AUTH, PORT_TLS = 31600, 31601, 31602
#: Ports handed out by the `redis_server` factory.
FACTORY_PORTS = range(31610, 31690)
#: Nothing listens here (connection refused).
PORT_CLOSED = 31699
PASSWORD = "s3cret-Pa55"
#: The command rules docs/redis.md gives for a perfadvisor ACL user.
MINIMAL_ACL = ("+ping +info +config|get +dbsize +scan +type +pttl +memory|usage +hlen +llen +scard +zcard "
               "+xlen")
ACL_PASSWORD = "acl-pw-9"


class RedisServer:
    """One redis-server on 127.0.0.1:port in a temporary directory; stopped (and its directory removed) by
    stop()."""

    def __init__(self, port: int, *args: str) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix=f"perfadvisor-redis-{port}-"))
        self.args = args
        self.log = self.dir / "redis.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                raise RuntimeError(f"port {self.port} is taken by another process; stop it first")
        except OSError:
            pass
        listen = [] if "--tls-port" in self.args else ["--port", str(self.port)]
        cmd = ["redis-server", *listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(self.dir), "--logfile", str(self.log), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start: {self.log.read_text()[-2000:]}")

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, protocol=2, **kwargs)

    def url(self, userinfo: str = "") -> str:
        return f"redis://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


#: Keys written by load_cache_data: group prefix → (count, has TTL).
CACHE_DATA = {
    "t1:cache:products::": (400, True),     # Spring cache behind a configured key-prefix, with a TTL
    "t1:cache:reports::": (200, False),     # Spring cache without a TTL
    "orders::": (100, True),                # Spring's default prefix (cacheName::)
    "user:*:": (300, False),                # data keys (hashes) without a TTL
}


def load_cache_data(c: redis.Redis) -> None:
    """The keyspace the analyzer is tested on (about 1,100 keys; see CACHE_DATA and the big/binary keys)."""
    p = c.pipeline(transaction=False)
    for i in range(400):
        p.set(f"t1:cache:products::{i}", "x" * 200, ex=300 + i)
    for i in range(200):
        p.set(f"t1:cache:reports::{i}", "r" * 500)
    for i in range(100):
        p.set(f"orders::SimpleKey [{i}, EUR]", "o" * 50, ex=60)
    for i in range(300):
        p.hset(f"user:{1000 + i}:profile", mapping={"name": f"n{i}", "email": f"u{i}@example.test"})
    for i in range(50):
        p.set(f"plainkey{i}", "p")
    p.execute()
    for i in range(50):
        c.xadd("jobs:queue", {"order": str(i)})
    # Big keys: a hash over the element line (and about 1.5 MB), a 2 MB string.
    for chunk in range(6):
        c.hset("big:hash:1", mapping={f"field-{chunk}-{i}": "v" * 30 for i in range(5000)})
    c.set("big:blob", b"b" * (2 * 1024 * 1024))
    # Binary key names: invalid UTF-8, NUL, CR LF, a terminal escape.
    c.set(b"bin:\xff\xfe\x00:k1", b"\x00\x01", ex=120)
    c.set(b"bin:line\r\nbreak", b"v", ex=120)
    c.set(b"\x1b[31mred", b"v" * 1000)  # bigger than plainkey*, so listed among the group's biggest
    c.set(b"\x00\x01\x02", b"v" * 1000)


def add_acl_users(c: redis.Redis) -> None:
    """Users that may not run INFO, CONFIG, MEMORY or SCAN, and one limited to keys t1:*."""
    base = ["on", f">{ACL_PASSWORD}", "~*", "&*", "+@all"]
    c.execute_command("ACL", "SETUSER", "noinfo", *base, "-info")
    c.execute_command("ACL", "SETUSER", "noconfig", *base, "-config")
    c.execute_command("ACL", "SETUSER", "nomemory", *base, "-memory")
    c.execute_command("ACL", "SETUSER", "noscan", *base, "-scan")
    c.execute_command("ACL", "SETUSER", "t1only", "on", f">{ACL_PASSWORD}", "~t1:*", "&*", "+@all")
    # The least a user needs for everything (docs/redis.md, "The permissions it needs").
    c.execute_command("ACL", "SETUSER", "perfadvisor", "on", f">{ACL_PASSWORD}", "~*", "resetchannels", "-@all",
                      *MINIMAL_ACL.split())


@pytest.fixture(scope="session")
def redis_data():
    server = RedisServer(PORT_DATA).start()
    c = server.client()
    load_cache_data(c)
    add_acl_users(c)
    c.close()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_auth():
    server = RedisServer(PORT_AUTH, "--requirepass", PASSWORD).start()
    c = server.client(password=PASSWORD)
    c.set("t2:cache:items::1", "v", ex=100)
    c.close()
    yield server
    server.stop()


def make_certs(d: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 (subjectAltName IP), made with openssl."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=perfadvisor test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    return {"ca": d / "ca.crt", "cert": d / "server.crt", "key": d / "server.key"}


@pytest.fixture(scope="session")
def redis_tls(tmp_path_factory):
    certs = make_certs(tmp_path_factory.mktemp("tls"))
    server = RedisServer(PORT_TLS, "--port", "0", "--tls-port", str(PORT_TLS),
                         "--tls-cert-file", str(certs["cert"]), "--tls-key-file", str(certs["key"]),
                         "--tls-ca-cert-file", str(certs["ca"]), "--tls-auth-clients", "no")
    server.start()  # Debian's redis-server is built with TLS; a build without it fails here with its log
    c = redis.Redis(host="127.0.0.1", port=PORT_TLS, ssl=True, ssl_ca_certs=str(certs["ca"]), protocol=2)
    c.set("t3:cache:tls::1", "v", ex=100)
    c.close()
    yield server, certs
    server.stop()


@pytest.fixture
def redis_server():
    """Factory: redis_server(*args) starts a fresh server on the next free factory port; all are stopped
    after the test."""
    started: list[RedisServer] = []

    def start(*args: str) -> RedisServer:
        for port in FACTORY_PORTS:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    continue  # taken
            except OSError:
                pass
            server = RedisServer(port, *args).start()
            started.append(server)
            return server
        raise RuntimeError("no free port in 31610-31689")

    yield start
    for server in started:
        server.stop()
