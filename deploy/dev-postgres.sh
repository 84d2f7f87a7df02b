#!/usr/bin/env bash
# A local PostgreSQL for the tests (`make services`): installed from Debian's packages when
# missing, started, trust auth for postgres on 127.0.0.1, and a database named `test`.
# Never run against a server you care about: it rewrites the cluster's pg_hba.conf.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
version=$(ls /etc/postgresql | sort -V | tail -1)
if [ -z "$version" ]; then
  echo "no PostgreSQL cluster under /etc/postgresql" >&2
  exit 1
fi
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main
fi
hba=/etc/postgresql/$version/main/pg_hba.conf
if ! grep -q "shelf-tests" "$hba"; then
  { echo "host all postgres 127.0.0.1/32 trust # shelf-tests"; cat "$hba"; } > "$hba.new"
  mv "$hba.new" "$hba"
fi
pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main reload
for _ in $(seq 1 20); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 0.5
done
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1 ||
  su postgres -c "createdb test"
