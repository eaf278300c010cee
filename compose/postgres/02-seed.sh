#!/usr/bin/env bash
# Seeds the shop at scale SEED_SCALE (default 1) on the container's first start. The image's entrypoint
# runs this between 01-schema.sql and 03-constraints.sql.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v scale="${SEED_SCALE:-1}" -f /usr/local/share/shop/02-seed.sql
