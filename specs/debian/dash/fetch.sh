#!/usr/bin/env bash
# Fetches Debian's dash 0.5.12-2 source package beside this script, the way a
# distro maintainer has it: `apt-get source --download-only`, with deb-src
# entries derived from this machine's own apt sources (no host is written
# here). The .dsc is pinned by sha256; reprocheck checks every file it lists.
# dash carries quilt patches: dpkg-source records them in .pc/ and sets the
# time of .pc/applied-patches to "now", which libfaketime once broke.
#
#   specs/debian/dash/fetch.sh        (idempotent; needs apt-get and a reachable archive)
set -euo pipefail
cd "$(dirname "$0")"
dsc=dash_0.5.12-2.dsc
dsc_sha256=25c0fb805c735fdb7470ce485ce76dae1a7b6c04efdfb0fdac5eab921cbd78a5
files=(dash_0.5.12.orig.tar.gz dash_0.5.12-2.debian.tar.xz)
have_all() { [ -f "$dsc" ] && for f in "${files[@]}"; do [ -f "$f" ] || return 1; done; }
if ! have_all; then
  ../../../scripts/apt-source.sh dash=0.5.12-2
fi
echo "$dsc_sha256  $dsc" | sha256sum -c --quiet
echo "fetched: $dsc and ${files[*]} in $(pwd)"
