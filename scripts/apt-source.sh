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
if apt-get "${apt_opts[@]}" source --download-only -q "$1" >/dev/null 2>&1; then
  exit 0
fi
case "$1" in
  *=*) echo "apt-source.sh: apt-get source $1 did not fetch every file; the caller checks what it needs" >&2 ;;
  *)
    # No version asked for: the newest the indexes list may not be on the
    # mirror yet (a security update listed before its files). Try the others,
    # newest first, leaving only the files of the one that downloads whole.
    for version in $(apt-cache "${apt_opts[@]}" showsrc "$1" | sed -n 's/^Version: //p' | sort -u -r -V); do
      before=$(ls -A)
      if apt-get "${apt_opts[@]}" source --download-only -q "$1=$version" >/dev/null 2>&1; then
        echo "apt-source.sh: fetched $1 $version (a newer version is listed but not served)" >&2
        exit 0
      fi
      comm -13 <(echo "$before") <(ls -A) | xargs -r rm -f --
    done
    echo "apt-source.sh: no version of $1 could be fetched whole" >&2 ;;
esac
