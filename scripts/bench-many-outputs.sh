#!/usr/bin/env bash
# What a check of a build with N differing outputs costs and prints: each of
# the N files holds the build time. Prints the terminal summary's line count,
# the sizes of report.json and report.html, and the time from the last
# build's end to exit (compare, structured diffs, both reports).
# Usage: scripts/bench-many-outputs.sh [N]   (needs Docker and the pinned image)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3000}
. scripts/bench-lib.sh
cat > "$work/src/build.sh" <<BUILD
mkdir -p out
i=0; while [ \$i -lt $n ]; do printf 'unit %d built at %s\n' \$i "\$(date +%s%N)" > out/f\$i.txt; i=\$((i+1)); done
BUILD
spec=$(bench_spec many "sh build.sh")

set +e
RUST_LOG=reprocheck=info "$bin" check "$spec" --out "$work/out" >"$work/summary" 2>"$work/log"
code=$?
ended=$(date +%s.%N)
set -e
[ "$code" -eq 1 ] || { cat "$work/log" >&2; echo "expected exit 1, got $code" >&2; exit 2; }
last=$(grep -o '^[0-9T:.-]*Z.*finished in' "$work/log" | cut -d' ' -f1 | sort | tail -n1)
tail_s=$(echo "$ended - $(date -d "$last" +%s.%N)" | bc)
differences=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['comparison']['differences']))" "$work/out/report.json")
echo "differing outputs:        $differences"
echo "terminal summary:         $(wc -l <"$work/summary") lines"
echo "report.json:              $(stat -c %s "$work/out/report.json") bytes"
echo "report.html:              $(stat -c %s "$work/out/report.html") bytes"
printf 'last build end to exit:   %.2f s\n' "$tail_s"
