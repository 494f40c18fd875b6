#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster (Debian's package) on a loopback port and
# prints its DATABASE_URL. Installs the package when it is missing.
# Usage: eval "$(.ci/postgres.sh start)"   |   .ci/postgres.sh stop
set -euo pipefail
PORT="${RUBATO_PG_PORT:-54329}"
DIR="${RUBATO_PG_DIR:-/tmp/rubato-pg-$PORT}"

pg_bin() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$v" ] && echo "/usr/lib/postgresql/$v/bin"
}

case "${1:-start}" in
  start)
    if [ -z "$(pg_bin)" ]; then
      echo "installing Debian's postgresql..." >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq postgresql >&2
    fi
    BIN=$(pg_bin)
    if ! "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q; then
      rm -rf "$DIR"; mkdir -p "$DIR"; chown postgres:postgres "$DIR"
      runuser -u postgres -- "$BIN/initdb" -D "$DIR/data" -U rubato --auth=trust -E UTF8 >/dev/null
      runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2
    fi
    echo "export DATABASE_URL=postgres://rubato@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    BIN=$(pg_bin)
    [ -d "$DIR/data" ] && runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
    ;;
esac
