#!/bin/sh
# Starts redis-server with /usr/local/etc/redis/redis.conf and `requirepass` from REDIS_PASSWORD_FILE, passed
# on standard input (`redis-server FILE -` reads more settings from it), so the password is never on disk,
# on a command line or in the environment. Extra arguments are passed on to redis-server.
set -eu
conf=/usr/local/etc/redis/redis.conf
REDIS_PASSWORD_FILE="${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}"
if [ ! -r "$REDIS_PASSWORD_FILE" ]; then
    echo "shop-redis-entrypoint: REDIS_PASSWORD_FILE ($REDIS_PASSWORD_FILE) is not a readable file" >&2
    exit 1
fi
# Redis's config syntax: a double-quoted string with \\ and \" escaped.
password="$(sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$REDIS_PASSWORD_FILE")"
exec redis-server "$conf" "$@" - <<CONF
requirepass "$password"
CONF
