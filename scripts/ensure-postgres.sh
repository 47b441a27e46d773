#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, pg_ctl, postgres) and client tools (pg_dump,
# pg_restore) are installed: installs Debian's postgresql package with apt-get when missing and
# running as root, otherwise says exactly what to install. Prints the bin directory found.
set -euo pipefail

find_bindir() {
  local d
  if [ -n "${PGTEST_BIN_DIR:-}" ] && [ -x "${PGTEST_BIN_DIR}/initdb" ]; then
    echo "${PGTEST_BIN_DIR}"; return 0
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/pg_dump" ] && [ -x "$d/pg_restore" ]; then
      echo "$d"; return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_dump >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

if bindir=$(find_bindir); then
  echo "$bindir"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<'MSG'
PostgreSQL server binaries (initdb, pg_ctl, postgres, pg_dump, pg_restore) were not found.
Install them, then run this again:
  Debian/Ubuntu:  sudo apt-get install -y postgresql
  Fedora/RHEL:    sudo dnf install -y postgresql-server
  macOS:          brew install postgresql
or set PGTEST_BIN_DIR to a directory holding them.
MSG
  exit 1
fi

echo "installing PostgreSQL with apt-get ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# The package's own cluster is not needed: tests and the demo start throwaway clusters.
apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >&2
find_bindir
