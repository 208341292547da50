#!/bin/sh
# The PostgreSQL test image's entrypoint: the official image's environment
# interface (POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, PGDATA, each
# *_FILE variant) over Debian's postgresql-15. initdb runs once, when PGDATA
# holds no PG_VERSION; then the server runs as the postgres user.
set -eu

# file_env VAR [DEFAULT]: VAR from the file named by VAR_FILE, else VAR, else DEFAULT.
file_env() {
    var="$1"
    file_var="${var}_FILE"
    eval "value=\${$var:-}"
    eval "file=\${$file_var:-}"
    if [ -n "$value" ] && [ -n "$file" ]; then
        echo "error: both $var and $file_var are set" >&2
        exit 1
    fi
    if [ -n "$file" ]; then
        value="$(cat "$file")"
    fi
    eval "$var=\${value:-\${2:-}}"
    export "$var"
    unset "$file_var"
}

if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    chmod 3777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    if [ -z "$POSTGRES_PASSWORD" ]; then
        echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA"
    rm -f "$pwfile"
    printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    # A server on the unix socket only, for the setup: nothing outside can
    # connect (or see it ready) until the real server starts.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        echo 'CREATE DATABASE :"db";' |
            psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname postgres --set db="$POSTGRES_DB"
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
fi

if [ "$1" = postgres ]; then
    shift
    set -- postgres -c listen_addresses='*' "$@"
fi
unset POSTGRES_PASSWORD
exec "$@"
