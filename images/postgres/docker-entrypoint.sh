#!/usr/bin/env bash
# Entry point for berth/postgres:15, modelled on the official postgres image:
# initdb on first start only, scram password auth for remote hosts, runs the
# server as the postgres user (exec, so it receives stop signals directly).
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

# file_env VAR: support VAR_FILE (docker secrets) like the official image.
file_env() {
  local var=$1 fvar="${1}_FILE" def=${2:-}
  if [[ -n "${!var:-}" && -n "${!fvar:-}" ]]; then
    log "both $var and $fvar are set (but are exclusive)"; exit 1
  fi
  local val=$def
  if [[ -n "${!var:-}" ]]; then val=${!var}; elif [[ -n "${!fvar:-}" ]]; then val=$(<"${!fvar}"); fi
  export "$var"="$val"
  unset "$fvar"
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  DATABASE_ALREADY_EXISTS=
  if [[ -s "$PGDATA/PG_VERSION" ]]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_dirs() {
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" 2>/dev/null || :
  mkdir -p /var/run/postgresql
  chmod 03775 /var/run/postgresql 2>/dev/null || :
  if [[ $(id -u) == 0 ]]; then
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  fi
}

verify_minimum_env() {
  if [[ -z "$POSTGRES_PASSWORD" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (Or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a
       password. This is *not* recommended.)
MSG
    exit 1
  fi
}

init_database_dir() {
  local pwfile
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is intentionally split
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --encoding=UTF8 --locale=en_US.utf8 $POSTGRES_INITDB_ARGS >&2
  rm -f "$pwfile"
}

setup_hba() {
  local method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
}

temp_server_start() {
  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >&2
}

temp_server_stop() {
  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop >&2
}

psql_cmd() {
  PGHOST=/var/run/postgresql PGPORT=5432 psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

setup_db() {
  if [[ "$POSTGRES_DB" != postgres ]]; then
    local exists
    exists=$(psql_cmd --dbname postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${POSTGRES_DB//\'/\'\'}'")
    if [[ -z "$exists" ]]; then
      psql_cmd --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >&2
    fi
  fi
}

process_init_files() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e "$f" ]] || continue
    case "$f" in
      *.sh)
        if [[ -x "$f" ]]; then log "running $f"; "$f"; else log "sourcing $f"; # shellcheck disable=SC1090
          . "$f"; fi ;;
      *.sql) log "running $f"; psql_cmd --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | psql_cmd --dbname "$POSTGRES_DB" >&2 ;;
      *) log "ignoring $f" ;;
    esac
  done
}

main() {
  # "docker run berth/postgres:15 -c foo=bar" -> postgres -c foo=bar
  if [[ "${1:-}" == -* ]]; then set -- postgres "$@"; fi

  if [[ "${1:-}" == postgres ]]; then
    setup_env
    create_dirs
    if [[ $(id -u) == 0 ]]; then
      # Re-run this script as postgres (after fixing ownership as root).
      exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [[ -z "$DATABASE_ALREADY_EXISTS" ]]; then
      verify_minimum_env
      log "initializing database in $PGDATA"
      init_database_dir
      setup_hba
      temp_server_start
      setup_db
      process_init_files
      temp_server_stop
      log "PostgreSQL init process complete; ready for start up"
    else
      log "PostgreSQL database directory appears to contain a database; skipping initialization"
    fi
  fi
  exec "$@"
}

main "$@"
