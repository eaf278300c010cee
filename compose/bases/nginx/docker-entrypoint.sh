#!/usr/bin/env bash
# The template step of the official nginx image's entrypoint, for the Debian stand-in: each
# /etc/nginx/templates/NAME.template becomes /etc/nginx/conf.d/NAME with only the ${VAR}s that are set in the
# environment substituted (nginx's own $variables stay as they are).
set -euo pipefail

if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
    templates=/etc/nginx/templates
    out=/etc/nginx/conf.d
    if [ -d "$templates" ] && compgen -G "$templates/*.template" >/dev/null; then
        if [ ! -w "$out" ]; then
            echo "$0: $out is not writable: templates not applied" >&2
        else
            defined="$(compgen -e | sed 's/.*/${&}/' | tr '\n' ' ')"
            for t in "$templates"/*.template; do
                name="$(basename "$t" .template)"
                envsubst "$defined" <"$t" >"$out/$name"
                echo "$0: wrote $out/$name from $t"
            done
        fi
    fi
fi
exec "$@"
