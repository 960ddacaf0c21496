# Source this: starts a throwaway PostgreSQL on 127.0.0.1 and exports DATABASE_URL.
# Used by .ci/run and by developers (`source .ci/postgres.sh && make test`).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  return 1 2>/dev/null || exit 1
fi
CELLWMS_PG_DIR=$(mktemp -d /tmp/cellwms-pg.XXXXXX)
# A free port on loopback unless one is given.
CELLWMS_PG_PORT=${CELLWMS_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
chown postgres "$CELLWMS_PG_DIR" 2>/dev/null || true
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$pg_bin/initdb" -D "$CELLWMS_PG_DIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$CELLWMS_PG_DIR/initdb.log" 2>&1 \
  || { cat "$CELLWMS_PG_DIR/initdb.log" >&2; return 1 2>/dev/null || exit 1; }
as_pg "$pg_bin/pg_ctl" -D "$CELLWMS_PG_DIR/data" -l "$CELLWMS_PG_DIR/server.log" -w start \
  -o "-c listen_addresses=127.0.0.1 -p $CELLWMS_PG_PORT -k $CELLWMS_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null \
  || { cat "$CELLWMS_PG_DIR/server.log" >&2; return 1 2>/dev/null || exit 1; }
"$pg_bin/createdb" -h 127.0.0.1 -p "$CELLWMS_PG_PORT" -U postgres cellwms_test
export DATABASE_URL="postgresql://postgres@127.0.0.1:$CELLWMS_PG_PORT/cellwms_test"
export CELLWMS_PG_DIR CELLWMS_PG_BIN="$pg_bin"
cellwms_stop_postgres() { as_pg "$CELLWMS_PG_BIN/pg_ctl" -D "$CELLWMS_PG_DIR/data" -m fast stop >/dev/null 2>&1; rm -rf "$CELLWMS_PG_DIR"; }
echo "PostgreSQL running: $DATABASE_URL"
