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
  apt_dir=$(mktemp -d)
  trap 'rm -rf "$apt_dir"' EXIT
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/sources.list.d"
  found=0
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && grep -q '^Types:.*\bdeb\b' "$f" || continue
    sed -E 's/^Types:.*$/Types: deb-src/' "$f" > "$apt_dir/sources.list.d/$(basename "$f")"
    found=1
  done
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$apt_dir/sources.list.d/host.list"
    [ -s "$apt_dir/sources.list.d/host.list" ] && found=1
  fi
  [ "$found" = 1 ] || { echo "fetch.sh: no apt sources on this machine to derive deb-src entries from" >&2; exit 2; }
  apt_opts=(-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
            -o "Dir::Etc::SourceList=/dev/null" -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -q >/dev/null
  apt-get "${apt_opts[@]}" source --download-only -q hello=2.10-3 >/dev/null
fi
echo "$dsc_sha256  $dsc" | sha256sum -c --quiet
echo "fetched: $dsc and ${files[*]} in $(pwd)"
