#!/usr/bin/env bash
# What the build trace costs (issue 37): Debian hello 2.10-3, an all-factor
# `reprocheck check specs/debian/hello/hello.toml`, with and without
# `--trace`, interleaved, REPS times each; prints each check's wall time
# and reprocheck's own peak RSS (GNU time's %M), the medians, their ratios,
# and the size of the traces and the writers the report names for the .debs.
#
#   scripts/bench-trace.sh [REPS]      (default 3)
#
# Needs: Docker (or DOCKER_HOST), GNU time (/usr/bin/time), hello's source
# (specs/debian/hello/fetch.sh). The hello image is built first when
# missing (not timed).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
. scripts/bench-lib.sh
spec=specs/debian/hello/hello.toml
specs/debian/hello/fetch.sh >/dev/null
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
"$bin" check "$spec" --build-missing --vary=none --out "$work/warm" >"$work/warm.log" 2>&1 || [ $? -eq 1 ] ||
  { echo "warming failed:" >&2; tail -n 20 "$work/warm.log" >&2; exit 2; }

declare -A walls rss
for rep in $(seq "$reps"); do
  for mode in plain traced; do
    flag=(); [ $mode = traced ] && flag=(--trace)
    rc=0
    /usr/bin/time -f '%e %M' -o "$work/$mode-$rep.time" "$bin" check "$spec" "${flag[@]}" --out "$work/$mode-$rep" \
      >"$work/$mode-$rep.log" 2>&1 || rc=$?
    [ $rc -le 1 ] || { echo "$mode check failed (exit $rc):" >&2; tail -n 20 "$work/$mode-$rep.log" >&2; exit 2; }
    # GNU time says "Command exited with non-zero status 1" first when it did.
    read -r wall kib < <(tail -n 1 "$work/$mode-$rep.time")
    walls[$mode]+="$wall "
    rss[$mode]+="$kib "
    printf 'rep %d %-6s %6.1f s wall, reprocheck peak RSS %6.1f MiB, %s\n' "$rep" "$mode" "$wall" \
      "$(echo "$kib / 1024" | bc -l)" "$(sed -n 's/^\(REPRODUCIBLE\|UNREPRODUCIBLE\).*/\1/p' "$work/$mode-$rep.log" | head -n1)"
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# shellcheck disable=SC2086
{
  pw=$(median ${walls[plain]}); tw=$(median ${walls[traced]})
  pr=$(median ${rss[plain]}); tr=$(median ${rss[traced]})
}
printf 'median wall: untraced %.1f s, traced %.1f s; ratio %.2f (issue 37: <= 1.3)\n' "$pw" "$tw" "$(echo "$tw / $pw" | bc -l)"
printf 'median peak RSS: untraced %.1f MiB, traced %.1f MiB; ratio %.2f (issue 37: <= 2)\n' \
  "$(echo "$pr / 1024" | bc -l)" "$(echo "$tr / 1024" | bc -l)" "$(echo "$tr / $pr" | bc -l)"
python3 - "$work/traced-$reps/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for run in report["runs"]:
    trace = run.get("trace") or {}
    print(f"run {run['index']}: trace {trace.get('bytes', 0) / 2**20:.1f} MiB, {trace.get('processes')} processes, "
          f"{trace.get('files_written')} files written, complete: {trace.get('complete')}")
    for output, chain in sorted(trace.get("writers", {}).items()):
        if output.endswith(".deb"):
            print(f"  {output}: " + " <- ".join(chain[:4]))
PY
