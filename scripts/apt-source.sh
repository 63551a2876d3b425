#!/usr/bin/env bash
# Downloads a Debian source package (`apt-get source --download-only`) into
# the current directory, with deb-src entries derived from this machine's own
# apt sources, so no archive host is ever written down. The caller pins what
# it fetched by sha256.
#
#   scripts/apt-source.sh hello=2.10-3
#   scripts/apt-source.sh python3.11          (whatever version the archive has)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PACKAGE[=VERSION]" >&2; exit 2; }
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
[ "$found" = 1 ] || { echo "apt-source.sh: no apt sources on this machine to derive deb-src entries from" >&2; exit 2; }
apt_opts=(-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
          -o "Dir::Etc::SourceList=/dev/null" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update -q >/dev/null
# A security update's .dsc may be gone from the archive while its
# orig tarball is still there: the caller checks what it needs by sha256.
apt-get "${apt_opts[@]}" source --download-only -q "$1" >/dev/null 2>&1 ||
  echo "apt-source.sh: apt-get source $1 did not fetch every file; the caller checks what it needs" >&2
