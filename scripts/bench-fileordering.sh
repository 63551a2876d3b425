#!/usr/bin/env bash
# The fileordering factor's two mechanisms side by side: disorderfs (the
# local socket: a host build directory through FUSE) and the preloaded
# readdir reverser (a TLS endpoint on 127.0.0.1 in front of the same
# engine, where host directories cannot be used). Each way of listing a
# directory is one build that leaks the order it sees; prints, per way and
# mechanism, whether `check --vary fileordering` flagged it (exit 1) or
# called it reproducible (exit 0), and the wall time (best of $REPS).
# Run from the repository root, as root.
set -euo pipefail
source scripts/bench-lib.sh
reps=${REPS:-2}
start_loopback_endpoints

# way NAME COMMAND: a source tree listing items/ (24 files) with COMMAND.
way() {
  mkdir -p "$work/ways/$1/items"
  for i in $(seq -w 1 24); do echo "$i" >"$work/ways/$1/items/f$i"; done
  cp scripts/fileordering-ways/*.c "$work/ways/$1/"
  printf 'set -eu\nmkdir -p out\n%s\n' "$2" >"$work/ways/$1/build.sh"
  cat >"$work/ways/$1.toml" <<SPEC
name = "order-$1"
[image]
digest = "$digest"
[source]
path = "$1"
[build]
command = "sh build.sh"
outputs = ["out"]
SPEC
}
way ls-f 'ls -f items > out/order'
way find 'find items > out/order'
way tar 'tar --mtime=@0 --owner=0 --group=0 --numeric-owner -cf out/items.tar items'
way perl-readdir 'perl -e '\''opendir D, "items"; print "$_\n" for readdir D'\'' > out/order'
way sh-glob 'for f in items/*; do echo "$f"; done > out/order'
way make-wildcard 'printf '\''all:\n\t@echo $(wildcard items/*)\n'\'' > /tmp/mk; make -s -f /tmp/mk > out/order'
way c-readdir 'gcc -o /tmp/list list.c && /tmp/list items > out/order'
way c-static 'gcc -static -o /tmp/list list.c && /tmp/list items > out/order'
way c-scandir 'gcc -o /tmp/scan scan.c && /tmp/scan items > out/order'
way c-glob 'gcc -o /tmp/glob glob.c && /tmp/glob "items/*" > out/order'
way c-nftw 'gcc -o /tmp/walk walk.c && /tmp/walk items > out/order'

# run ENV... : sets $verdict and $seconds (best of $reps) for $spec.
run() {
  local best= code
  for _ in $(seq "$reps"); do
    local start end t
    rm -rf "$work/out"
    start=$(date +%s.%N)
    code=0
    env "$@" "$bin" -q check "$spec" --vary fileordering --out "$work/out" >/dev/null 2>"$work/stderr" || code=$?
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  case $code in 0) verdict=reproducible ;; 1) verdict=FLAGGED ;; *) verdict="error($code)"; sed "s/^/    /" "$work/stderr" >&2 ;; esac
  seconds=$best
  mechanism=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["runs"][-1]["factors"]["fileordering"])' "$work/out/report.json" 2>/dev/null || echo "?")
}

printf '%-14s %-14s %7s   %-14s %7s\n' way disorderfs s reverser s
for spec in "$work"/ways/*.toml; do
  name=$(basename "$spec" .toml)
  run DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
  d=$verdict ds=$seconds dm=$mechanism
  # shellcheck disable=SC2086
  run $tls_env
  printf '%-14s %-14s %7.2f   %-14s %7.2f\n' "$name" "$d" "$ds" "$verdict" "$seconds"
  echo "$dm | $mechanism" >>"$work/mechanisms"
done
echo "mechanisms used (local | tls):"
sort -u "$work/mechanisms" | sed 's/^/  /'
