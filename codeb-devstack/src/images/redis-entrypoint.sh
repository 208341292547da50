#!/bin/sh
# The Redis test image's entrypoint, as the official image's: arguments
# that start with `-` (or a config file) go to redis-server, which runs as
# the redis user in /data.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

exec "$@"
