#!/usr/bin/env bash
# Fetches Debian's hello 2.10-3 source package beside this script, the way a
# distro maintainer has it: `apt-get source --download-only`, with deb-src
# entries derived from this machine's own apt sources (no host is written
# here). The .dsc is pinned by sha256; reprocheck checks every file it lists.
#
#   specs/debian/hello/fetch.sh        (idempotent; needs apt-get and a reachable archive)
set -euo pipefail
cd "$(dirname "$0")"
dsc=hello_2.10-3.dsc
dsc_sha256=75296f5ef618ae2f1849e22b142a2b5ab52c452ebefa4e7b0564c44617db3790
files=(hello_2.10.orig.tar.gz hello_2.10.orig.tar.gz.asc hello_2.10-3.debian.tar.xz)
have_all() { [ -f "$dsc" ] && for f in "${files[@]}"; do [ -f "$f" ] || return 1; done; }
if ! have_all; then
  ../../../scripts/apt-source.sh hello=2.10-3
fi
echo "$dsc_sha256  $dsc" | sha256sum -c --quiet
echo "fetched: $dsc and ${files[*]} in $(pwd)"
