#!/usr/bin/env bash
# Builds, from Debian's own packages, stand-ins for the official images that the sample stack's Dockerfiles
# start FROM, for a machine that reaches Debian's package mirror (and PyPI, npm, Maven Central) but no
# container registry. Each stack Dockerfile takes its base as a build argument whose default is the official
# image; bases.env names these stand-ins instead:
#
#   compose/bases/build.sh                      # the Debian base (debootstrap, once) and every stand-in
#   cd compose && docker compose -f docker-compose.yml -f bases/docker-compose.bases.yml build
#
# The Debian base is made once with `debootstrap --variant=minbase bookworm` and `docker import`, and kept in
# the engine's image store; it is made again when this script's recipe for it changes (or after
# `docker rmi perfadvisor-bases/debian:bookworm`).
# It trusts what this machine trusts: the extra CA certificates in /usr/local/share/ca-certificates (a
# company CA, a TLS-inspecting proxy's) are copied in, so that apt, pip, npm and Maven in builds work here.
# The stand-ins are rebuilt on every run from the engine's build cache (seconds when nothing changed).
#
# Needs: root (debootstrap), a running Docker engine, debootstrap (installed with apt-get when missing).
# Env: DEBIAN_MIRROR (default http://deb.debian.org/debian), PERFADVISOR_BASES_PREFIX (perfadvisor-bases).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${PERFADVISOR_BASES_PREFIX:-perfadvisor-bases}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_IMAGE="$PREFIX/debian:bookworm"

log() { printf '%s [bases] %s\n' "$(date +%H:%M:%S)" "$*"; }

make_debian_base() {
    # The recipe's fingerprint is a label of the image: a changed recipe makes the base again.
    local recipe have
    recipe="$(declare -f make_debian_base | sha256sum | cut -c1-16)"
    have="$(docker image inspect -f '{{index .Config.Labels "org.perfadvisor.base-recipe"}}' "$DEBIAN_IMAGE" 2>/dev/null || true)"
    if [ "$have" = "$recipe" ]; then
        log "$DEBIAN_IMAGE exists (kept from an earlier run)"
        return
    fi
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
    fi
    local dir
    dir="$(mktemp -d /tmp/perfadvisor-debian.XXXXXX)"
    # shellcheck disable=SC2064  # expand now: the trap must remove this directory, whatever $dir is later
    trap "rm -rf '$dir'" RETURN
    log "debootstrap --variant=minbase bookworm (about 30 s)"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$dir/root" "$MIRROR" >"$dir/debootstrap.log" 2>&1 \
        || { tail -20 "$dir/debootstrap.log"; return 1; }
    local root="$dir/root"
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    # Package scripts must never start a service during a build: with --network host it would take the host's
    # port (this is what Debian's own container images do).
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    # Like debian:bookworm-slim: no manuals, documentation or translations in the images.
    cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
DPKG
    # Debian's openjdk postinst writes man pages into /usr/share/man/man1 and fails when it is missing.
    mkdir -p "$root/usr/share/man/man1"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90slim"
    # Like Debian's own images: no package cache (.deb files, pkgcache.bin: ~90 MB) left in a layer.
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        chroot "$root" update-ca-certificates >/dev/null 2>&1
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
           "$root"/var/log/* "$root"/usr/share/doc/* "$root"/usr/share/man/man[2-9] "$root"/usr/share/info/*
    tar --numeric-owner -C "$root" -c . \
        | docker import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' -c "LABEL org.perfadvisor.base-recipe=$recipe" \
              -m "debootstrap --variant=minbase bookworm" \
              - "$DEBIAN_IMAGE" >/dev/null
    log "$DEBIAN_IMAGE imported ($(docker image inspect -f '{{.Size}}' "$DEBIAN_IMAGE" | numfmt --to=iec))"
}

# name:tag of each stand-in, the directory it is built from, and the stand-in it builds FROM (if any).
STANDINS=(
    "python:3.11 python"
    "locust:2.47.0 locust python:3.11"
    "postgres:15 postgres"
    "redis:7 redis"
    "eclipse-temurin:17-jre jre"
    "maven:3-eclipse-temurin-17 maven"
    "node:24 node"
    "nginx:1 nginx"
)

build_standins() {
    local entry image dir from args
    for entry in "${STANDINS[@]}"; do
        read -r image dir from <<<"$entry"
        args=(--build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE")
        [ -n "${from:-}" ] && args+=(--build-arg "BASE_IMAGE=$PREFIX/$from")
        log "building $PREFIX/$image"
        # Quiet unless it fails (the classic builder also warns that it is deprecated on every run).
        if ! out="$(docker build --network host "${args[@]}" -t "$PREFIX/$image" "$HERE/$dir" 2>&1)"; then
            printf '%s\n' "$out" | tail -40
            return 1
        fi
    done
}

make_debian_base
build_standins
log "done: $(for e in "${STANDINS[@]}"; do printf '%s/%s ' "$PREFIX" "${e%% *}"; done)"
