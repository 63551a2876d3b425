#!/usr/bin/env bash
# Fetches Debian's tzdata 2026b-0+deb12u1 source package beside this script
# with `apt-get source --download-only`, from deb-src entries derived from
# this machine's own apt sources (no host is written here). Its upstream
# tarball has no top directory, which dpkg-source unpacks into the package
# directory itself. The .dsc is pinned by sha256; reprocheck checks every
# file it lists.
#
#   specs/debian/tzdata/fetch.sh        (idempotent; needs apt-get and a reachable archive)
set -euo pipefail
cd "$(dirname "$0")"
dsc=tzdata_2026b-0+deb12u1.dsc
dsc_sha256=1a6e7b80823607130b79a12e5dff0d03ed81feb14faf5fffad94841e54cfe988
files=(tzdata_2026b.orig.tar.gz tzdata_2026b.orig.tar.gz.asc tzdata_2026b-0+deb12u1.debian.tar.xz)
have_all() { [ -f "$dsc" ] && for f in "${files[@]}"; do [ -f "$f" ] || return 1; done; }
if ! have_all; then
  ../../../scripts/apt-source.sh tzdata=2026b-0+deb12u1
fi
have_all || { echo "fetch.sh: the archive no longer serves $dsc and ${files[*]}" >&2; exit 1; }
echo "$dsc_sha256  $dsc" | sha256sum -c --quiet
echo "fetched: $dsc and ${files[*]} in $(pwd)"
