#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks of the PostgreSQL
# store: initdb + pg_ctl in DIR, listening only on a Unix socket in DIR (no TCP
# port), with one database. Nothing in it is meant to survive: fsync is off.
#
#   scripts/pg-server.sh start DIR   prints the libpq DSN, e.g.
#                                    host=DIR port=5432 dbname=baton user=postgres
#   scripts/pg-server.sh stop DIR    stops the server and removes what start made
#
# start first clears whatever a previous server left in DIR (also one that is
# still running after its caller crashed). stop succeeds when there is nothing
# to stop. initdb refuses to run as root, so as root the server runs as the
# `postgres` system user (Debian's postgresql package creates it) and DIR is
# handed to that user; otherwise it runs as the calling user.
#
# Environment: PG_BIN (default: the newest /usr/lib/postgresql/*/bin),
# PG_PORT (default 5432; only names the socket file), PG_DATABASE (default baton).
set -euo pipefail

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
action=$1
dir=$2
port=${PG_PORT:-5432}
database=${PG_DATABASE:-baton}
marker=".baton-pg-server"

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then
    echo "$PG_BIN"
    return
  fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$newest" ] || [ ! -x "$newest/initdb" ]; then
    echo "pg-server: no PostgreSQL server binaries under /usr/lib/postgresql (install Debian's" \
         "postgresql package: scripts/install-deps.sh) and PG_BIN is not set" >&2
    exit 1
  fi
  echo "$newest"
}

# The user the server runs as, and a way to run a command as that user.
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "pg-server: running as root needs the 'postgres' system user (Debian's postgresql" \
         "package creates it)" >&2
    exit 1
  fi
  server_user=postgres
  as_server() { (cd "$dir" && runuser -u postgres -- "$@"); }
else
  server_user=$(id -un)
  as_server() { (cd "$dir" && "$@"); }
fi

stop_server() {
  [ -d "$dir" ] || return 0
  local bin data="$dir/data"
  if [ -f "$data/postmaster.pid" ]; then
    bin=$(find_bin)
    # Immediate mode: the data is thrown away anyway.
    if ! as_server "$bin/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1; then
      # pg_ctl gave up (a stale or foreign pid file): end the postmaster
      # named in it only if it is a postgres process serving this directory.
      local pid
      pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
      if [ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null &&
         { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$data"; then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      fi
    fi
  fi
  # Only what start made: the directory itself stays if it holds anything else.
  rm -rf "$data" "$dir/server.log" "$dir/initdb.log" "$dir/.s.PGSQL.$port" "$dir/.s.PGSQL.$port.lock" "$dir/$marker"
  rmdir "$dir" 2>/dev/null || true
}

start_server() {
  local bin data="$dir/data"
  bin=$(find_bin)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  data="$dir/data"
  # The socket's path must fit in sun_path (107 bytes).
  if [ ${#dir} -gt 80 ]; then
    echo "pg-server: '$dir' is too long for a Unix socket path; use a shorter DIR" >&2
    exit 1
  fi
  stop_server
  mkdir -p "$dir"
  touch "$dir/$marker"
  if [ "$server_user" = postgres ] && [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    chmod 700 "$dir"
    # The server user must be able to reach DIR.
    if ! runuser -u postgres -- test -x "$dir"; then
      echo "pg-server: the postgres user cannot reach $dir (a parent directory is not" \
           "searchable by others); use a DIR under /tmp" >&2
      exit 1
    fi
  fi
  if ! as_server "$bin/initdb" -D "$data" -U "$server_user" --auth=trust --encoding=UTF8 \
         --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
    echo "pg-server: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    exit 1
  fi
  cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
max_connections = 200
shared_buffers = 64MB
fsync = off
full_page_writes = off
EOF
  if ! as_server "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
    echo "pg-server: the server did not start:" >&2
    tail -n 30 "$dir/server.log" >&2
    exit 1
  fi
  if ! "$bin/psql" -X -q -h "$dir" -p "$port" -U "$server_user" -d postgres \
         -c "CREATE DATABASE $database" >/dev/null; then
    echo "pg-server: creating the database $database failed" >&2
    exit 1
  fi
  echo "host=$dir port=$port dbname=$database user=$server_user"
}

case "$action" in
  start) start_server ;;
  stop) stop_server ;;
  *) usage ;;
esac
