#!/usr/bin/env bash
# Installs the outside tools the tests use, when missing:
#   - zstd and age (Debian packages): the tests decode stored snapshots with the standard tools;
#   - chromium (Debian package): the status page is tested in a real headless browser;
#   - strace (Debian package): the durability-order test (T4) reads pgsnap's syscall trace;
#   - versitygw (pinned, built with go install into a cache): the S3-compatible server the S3
#     store's tests run against on loopback.
# Prints the versitygw path on its last line. Needs root (or sudo) for apt-get.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
pkgs=()
command -v zstd >/dev/null || pkgs+=(zstd)
command -v age >/dev/null || pkgs+=(age)
command -v chromium >/dev/null || pkgs+=(chromium)
command -v strace >/dev/null || pkgs+=(strace)
if [ "${#pkgs[@]}" -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "installing ${pkgs[*]} with apt-get" >&2
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >&2
fi

bin="${PGSNAP_TOOLS_DIR:-${HOME:-/root}/.cache/pgsnap/tools}/versitygw-${VERSITYGW_VERSION}"
if [ ! -x "$bin/versitygw" ]; then
	echo "building versitygw ${VERSITYGW_VERSION} (go install, once)" >&2
	mkdir -p "$bin"
	# Outside the module: versitygw stays out of pgsnap's go.mod.
	(cd / && GOBIN="$bin" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}") >&2
fi
echo "$bin/versitygw"
