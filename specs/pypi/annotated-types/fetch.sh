#!/usr/bin/env bash
# Fetches the published sdist of annotated-types 0.7.0 beside this script
# with pip (from the package index pip is configured for; no host is
# written here), pinned by sha256.
#
#   specs/pypi/annotated-types/fetch.sh        (idempotent)
set -euo pipefail
cd "$(dirname "$0")"
file=annotated_types-0.7.0.tar.gz
sha256=aff07c09a53a08bc8cfccb9c85b05f1aa9a2a6f23728d790723543408344ce89
if [ ! -f "$file" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    --dest "$tmp" annotated-types==0.7.0
  mv "$tmp/$file" .
fi
echo "$sha256  $file" | sha256sum -c --quiet
echo "fetched: $file in $(pwd)"
