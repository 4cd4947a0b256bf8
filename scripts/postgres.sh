#!/usr/bin/env bash
# A throw-away PostgreSQL server on loopback for the tests.
#   scripts/postgres.sh start DIR   installs the Debian package if missing, starts a server whose
#                                   data lives in DIR, and prints its URL on stdout
#   scripts/postgres.sh restart DIR restarts it (every connection is closed, as when an
#                                   administrator restarts a server), on the same port
#   scripts/postgres.sh stop DIR    stops it and removes DIR
set -euo pipefail
action=${1:?start, restart or stop}
dir=${2:?data directory}
port=${TUNELAB_PG_PORT:-55439}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

install_server() {
  [ -n "$(bindir)" ] && return 0
  [ "$(id -u)" = 0 ] || { echo "PostgreSQL is not installed and this is not root" >&2; return 1; }
  echo "installing the Debian package postgresql..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

case "$action" in
  start)
    install_server
    bin=$(bindir)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  restart)
    # -l: the server writes to its log file, not to this script's output, which the caller may
    # be reading to its end. pg_ctl starts it with the options it had (port, socket directory).
    as_postgres "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -m fast -w restart \
      >/dev/null
    ;;
  stop)
    bin=$(bindir)
    if [ -n "$bin" ] && [ -d "$dir/data" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "unknown action $action: use start, restart or stop" >&2; exit 2 ;;
esac
