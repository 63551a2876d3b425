#!/usr/bin/env bash
# Hostile inputs of issue 15, measured: peak RSS (KiB) and wall time of
# reprocheck on each, for this tree's binary and, with BASELINE=/path/to/an
# older reprocheck, for that one too. Prints one table row per input.
#
#   scripts/bench-hostile.sh
#   BASELINE=/tmp/old-target/release/reprocheck scripts/bench-hostile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

# A .tar.xz source expanding to 2 GiB: one xz stream of a tar header for
# one 2 GiB member and the member's zeros (what the red team sent).
python3 - "$work/header.tar" <<'PY'
import sys, tarfile
info = tarfile.TarInfo("pkg-1.0/big"); info.size = 2 << 30; info.mode = 0o644
open(sys.argv[1], "wb").write(info.tobuf(format=tarfile.GNU_FORMAT))
PY
mkdir -p "$work/xz"
{ cat "$work/header.tar"; head -c $((2 << 30)) /dev/zero; } | xz -T1 -0 -c > "$work/xz/bomb.tar.xz"
sum=$(sha256sum "$work/xz/bomb.tar.xz" | cut -d' ' -f1)
# Under the default limits.source_size (1 GiB) it is refused; with 4GiB it
# is accepted and then packed for upload in memory (issue 19).
cat > "$work/xz/xz.toml" <<SPEC
[image]
digest = "$digest"
[source]
tarball = "bomb.tar.xz"
sha256 = "$sum"
strip_components = 1
[build]
command = "true"
outputs = ["out"]
SPEC
cp "$work/xz/xz.toml" "$work/xz/xz-capped.toml"
printf '[limits]\nsource_size = "4GiB"\n' >> "$work/xz/xz-capped.toml"

# path_spec FILE: a spec building src/ beside FILE with `sh build.sh`.
path_spec() {
  printf '[image]\ndigest = "%s"\n[source]\npath = "src"\n[build]\ncommand = "sh build.sh"\noutputs = ["out"]\n' \
    "$digest" > "$1"
}

# A 4 GiB (sparse) reference for verify --expect-file.
mkdir -p "$work/huge/src"
echo 'mkdir -p out && echo small > out/x.tar' > "$work/huge/src/build.sh"
truncate -s 4G "$work/huge/huge.tar"
path_spec "$work/huge/huge.toml"

# 40 differing 1 MB texts: a long comparison, interrupted after its start.
mkdir -p "$work/texts/src"
cat > "$work/texts/src/build.sh" <<'SH'
mkdir -p out; for f in $(seq 40); do awk -v s="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')" 'BEGIN{srand(s); for(i=0;i<60000;i++) print i, rand()}' > out/f$f.txt; done
SH
path_spec "$work/texts/texts.toml"

# measure BIN LABEL ARGS...: peak RSS and wall time of one invocation.
measure() {
  local bin=$1 label=$2; shift 2
  rm -rf "$work/out"
  /usr/bin/time -f '%M %e' -o "$work/time" "$bin" "$@" --out "$work/out" >"$work/log" 2>&1 || true
  read -r kib secs < <(tail -n1 "$work/time")
  printf '| %-44s | %-9s | %8s MiB | %7s s | %s\n' "$label" "$(basename "$(dirname "$(dirname "$bin")")")" \
    "$((kib / 1024))" "$secs" "$(grep -m1 -E '^error|REPRODUCIBLE|UNREPRODUCIBLE|VERIFIED|NOT VERIFIED' "$work/log" | cut -c1-90)"
}

# interrupted BIN: seconds from SIGINT (sent 0.5 s after both builds
# finished, from the info log) to the exit.
interrupted() {
  local bin=$1
  rm -rf "$work/out"
  RUST_LOG=reprocheck=info "$bin" check "$work/texts/texts.toml" --vary none --out "$work/out" >"$work/log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null && [ "$(grep -c 'finished in' "$work/log")" -lt 2 ]; do sleep 0.1; done
  sleep 0.5
  local sent
  sent=$(date +%s.%N)
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
  printf '| %-44s | %-9s | %12s | %7.1f s | %s\n' "SIGINT 0.5 s into the comparison (40 x 1 MB texts)" \
    "$(basename "$(dirname "$(dirname "$bin")")")" "-" "$(echo "$(date +%s.%N) - $sent" | bc)" \
    "$(grep -m1 -E '^error|UNREPRODUCIBLE' "$work/log" | cut -c1-90)"
}

echo "| input | binary | peak RSS | wall | outcome"
echo "|---|---|---|---|---"
for b in ${BASELINE:-} "$bin"; do
  measure "$b" ".tar.xz source expanding to 2 GiB" check "$work/xz/xz.toml" --vary none
  measure "$b" "the same, [limits] source_size = 4GiB" check "$work/xz/xz-capped.toml" --vary none
  measure "$b" "4 GiB reference for verify --expect-file" verify "$work/huge/huge.toml" \
    --expect-file "out/x.tar=$work/huge/huge.tar"
  interrupted "$b"
done
