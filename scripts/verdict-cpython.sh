#!/usr/bin/env bash
# verify's verdict on CPython 3.11.2's published Python-3.11.2.tgz against
# a rebuild of its tree (issue 31): the tree packed as a rebuild packs it
# (tar --sort=name --owner=0 --group=0 --numeric-owner --format=gnu
# --mtime=<last commit> --clamp-mtime, gzip -n), copied out by a build in
# the pinned image and compared by `reprocheck verify --expect-file`.
# Prints the verdict line and what the content match ignored; must stay
# content-match (the strict readers find nothing ambiguous in it).
#
#   scripts/verdict-cpython.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/reprocheck
. scripts/cpython-tarball.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/spec/rebuilt" "$work/tree"
tar -xzf "$cpython_tgz" -C "$work/tree"
tar -C "$work/tree" --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
  --mtime=2023-02-07T13:40:00Z --clamp-mtime -cf - Python-3.11.2 | gzip -n > "$work/spec/rebuilt/Python-3.11.2.tgz"
cp "$cpython_tgz" "$work/spec/Python-3.11.2.tgz"
digest=$(sed -n 's/^image = "\(.*\)"/\1/p' specs/containers/debian-trixie/packages.lock)
cat > "$work/spec/cpython.toml" <<TOML
name = "cpython-3.11.2"
[image]
name = "reprocheck/debian-trixie"
digest = "$digest"
[source]
path = "rebuilt"
[build]
command = "mkdir -p dist && cp Python-3.11.2.tgz dist/"
outputs = ["dist/Python-3.11.2.tgz"]
TOML
"$bin" verify "$work/spec/cpython.toml" --expect-file "dist/Python-3.11.2.tgz=$work/spec/Python-3.11.2.tgz" \
  --out "$work/out" 2>/dev/null | grep -E '^  (match|content-match|mismatch)|differs only in|ambiguous|contents differ' || true
python3 - "$work/out/report.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))["verification"]["outputs"][0]
print("verdict:", o["verdict"], "ignored:", json.dumps(o.get("ignored_differences", {})))
PY
