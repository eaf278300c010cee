#!/bin/sh
# Healthy when Redis answers PING with the password from REDIS_PASSWORD_FILE (as the entrypoint) (REDISCLI_AUTH keeps it off the
# command line).
set -eu
REDISCLI_AUTH="$(cat "${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}")" redis-cli -p 6379 ping | grep -q PONG
