#!/usr/bin/env bash
# Fuzzes the property "content-match => GNU tar extracts equal trees"
# (fuzz/fuzz_targets/content_match.rs) for a fixed time, seeded with the
# honest twins of the archive oracle (tests/oracle/make_corpus.py).
# Not run in CI: it needs cargo-fuzz and the nightly toolchain, and time.
# Usage: scripts/fuzz-content-match.sh [SECONDS]   (default 1800)
# A counterexample is written to fuzz/artifacts/content_match/; turn each
# into a case of tests/oracle/make_corpus.py.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
command -v cargo-fuzz >/dev/null || { echo "needs cargo-fuzz: cargo install cargo-fuzz" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 tests/oracle/make_corpus.py "$work/corpus" >/dev/null
seeds=fuzz/corpus/content_match
mkdir -p "$seeds"
# Each seed: 4-byte little-endian length of the published archive, it, then the rebuild.
python3 - "$work/corpus" "$seeds" <<'PY'
import json, struct, sys, pathlib
corpus, seeds = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for case in json.loads((corpus / "cases.json").read_text()):
    name = case["file"]
    if not (name.endswith(".tar")):
        continue
    a = (corpus / "published" / name).read_bytes()
    b = (corpus / "rebuilt" / name).read_bytes()
    (seeds / f"{case['kind']}-{name}").write_bytes(struct.pack("<I", len(a)) + a + b)
PY
echo "seeds: $(ls "$seeds" | wc -l); fuzzing for ${seconds}s"
cd fuzz
umask 022
cargo +nightly fuzz run -O content_match corpus/content_match -- \
  -max_total_time="$seconds" -max_len=262144 -timeout=30 2>&1 | tail -n 25
