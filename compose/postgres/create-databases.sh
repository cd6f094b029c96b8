#!/bin/sh
# One database per service, created when PostgreSQL starts on an empty data volume (the
# image runs /docker-entrypoint-initdb.d/* then, and never again). TRACKER_DATABASES names
# them; each service's migrations (the migrate-* services) then create its tables.
set -e

for database in ${TRACKER_DATABASES:?TRACKER_DATABASES names the databases to create}; do
    echo "creating database $database"
    psql --no-psqlrc --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set name="$database" <<'SQL'
CREATE DATABASE :"name";
SQL
done
