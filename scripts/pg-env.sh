# Sourced by the test scripts. pg_env_start: unless BATON_PG_DSN already names
# a server, starts a throwaway PostgreSQL server (scripts/pg-server.sh) for the
# PostgreSQL store's tests (CTest label `postgresql`), exports its DSN in
# BATON_PG_DSN and stops it when the sourcing shell exits. Returns 1 when the
# server cannot start; those tests then fail and say why.
pg_env_start() {
  [ -n "${BATON_PG_DSN:-}" ] && return 0
  local here dsn
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  pg_env_dir=$(mktemp -d /tmp/baton-pg.XXXXXX)
  trap 'bash "'"$here"'/pg-server.sh" stop "$pg_env_dir"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  echo "== PostgreSQL server in $pg_env_dir"
  dsn=$(bash "$here/pg-server.sh" start "$pg_env_dir") || return 1
  export BATON_PG_DSN="$dsn"
}
