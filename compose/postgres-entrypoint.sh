#!/bin/sh
# Create the database cluster on first start (owner and password from the file named by
# POSTGRES_PASSWORD_FILE, a compose secret), then run PostgreSQL in the foreground.
set -eu
user="${POSTGRES_USER:-airflow}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -r "${POSTGRES_PASSWORD_FILE:-}" ] || { echo "error: POSTGRES_PASSWORD_FILE names no readable file" >&2; exit 1; }
  initdb --username="$user" --pwfile="$POSTGRES_PASSWORD_FILE" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 >/dev/null
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # The database Airflow uses, created with a server that listens on the socket only.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  createdb --username="$user" "${POSTGRES_DB:-airflow}"
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -c listen_addresses='*'
