#!/usr/bin/env bash
# GNU hello 2.10's release tarball, as Debian ships it (hello_2.10.orig.tar.gz
# is upstream's hello-2.10.tar.gz byte for byte), fetched with apt through
# ../debian/hello/fetch.sh and pinned by sha256.
#
#   specs/gnu-hello-dist/fetch.sh        (idempotent)
set -euo pipefail
cd "$(dirname "$0")"
file=hello-2.10.tar.gz
sha256=31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b
if [ ! -f "$file" ]; then
  ../debian/hello/fetch.sh >/dev/null
  cp ../debian/hello/hello_2.10.orig.tar.gz "$file"
fi
echo "$sha256  $file" | sha256sum -c --quiet
echo "fetched: $file in $(pwd)"
