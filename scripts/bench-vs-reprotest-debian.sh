#!/usr/bin/env bash
# reprocheck next to reprotest on real Debian source packages (issue 36,
# item 5): for each package below, both tools build the same .dsc twice with
# the same variations and say whether it reproduces. Wall time, the tools'
# own peak RSS and the verdicts are printed per package, with the ratios, and
# a Markdown table for docs/benchmarks.md.
#
#   scripts/bench-vs-reprotest-debian.sh [REPS] [PACKAGE...]     (REPS default 1)
#
# Sources come through scripts/apt-source.sh (deb-src derived from the host's
# own apt sources) and are pinned by the .dsc's sha256 below; dpkg-source
# checks the files the .dsc lists. WORK (default /tmp/reprocheck-vs-reprotest)
# keeps sources, image locks and results between runs.
#
# Same variations: reprotest 0.7.23 on its null server (the host, as root)
# cannot vary user_group without a list of users nor domain_host without
# sudo, so both are left out on both sides; the other 12 are varied by both
# (reprocheck's names: environment, build_path, umask, locales, timezone,
# home, exec_path, num_cpus, kernel, aslr, fileordering, time).
# Same build: reprotest's own preset for a .dsc (dpkg-source -x, then
# `dpkg-buildpackage --no-sign -b`, artifacts *.deb beside the tree);
# reprocheck's `[source] dsc` with the same command and `../*.deb`.
# Test suites are skipped on both sides (DEB_BUILD_OPTIONS=nocheck, which
# reprotest passes on from its own environment): sed's fail under variation
# in both tools, each in another test (a gnulib ACL test on reprocheck's
# disorderfs mount, a panic test in reprotest's experiment), and a test suite
# measures the package, not the tool.
# Not timed: fetching, the build dependencies on the host (apt-get build-dep,
# for reprotest) and in reprocheck's image (built once from a recipe whose
# build_depends is the .dsc).
# Peak RSS: scripts/peak-rss.py samples every process of each tool's tree
# every 50 ms and keeps the largest sum of the tool's own processes alive at
# once: reprocheck's one process; reprotest's own, its testbed server
# (autopkgtest-virt-null) and its comparator (diffoscope). The builds'
# compilers and shells, which both tools run alike, are not the tool's, nor
# disorderfs, which both use. The largest single tool process is printed too.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-1}
shift || true
work=${WORK:-/tmp/reprocheck-vs-reprotest}
command -v reprotest >/dev/null || { echo "reprotest is not installed (apt-get install reprotest)" >&2; exit 2; }
(cd "$here" && cargo build --release -q)
reprocheck=${CARGO_TARGET_DIR:-$here/target}/release/reprocheck

# name=version  sha256 of the .dsc  what it is
packages=(
  "hello=2.10-3 75296f5ef618ae2f1849e22b142a2b5ab52c452ebefa4e7b0564c44617db3790 autotools,no-patches"
  "pv=1.6.20-1 bcd8993e1a34ae4a53ba655c5491fda3dd21f6a7f19daa802e25e4eddb98f707 autotools,no-patches"
  "tree=2.1.0-1 57da9be8a9c455077bae9e4909fab01cc62b25dbdea64042b4afbc403d599410 make,3-patches"
  "dash=0.5.12-2 25c0fb805c735fdb7470ce485ce76dae1a7b6c04efdfb0fdac5eab921cbd78a5 autoreconf,14-patches"
  "bc=1.07.1-3 92f057cf569b6a90f95f423b293e49dce8e7cf7e99764d4aef4dfe6aa2642e15 autotools,8-patches"
  "sed=4.9-1+deb12u1 6bf366b84fd2025e355689e524132b3c38a2b4ef136de2e6129595be1e3bdd4f autotools,2-patches"
)
wanted=("$@")
# reprotest 0.7.23's faketime makes dpkg-source's utime(FILE, NULL) fail with
# EINVAL (libfaketime 0.9.10), so a package with quilt patches can stop at
# `dpkg-source --before-build` in reprotest's experiment (specs/debian/dash/README.md).
without_time="tree dash"

verdict() { case $1 in 0) echo reproducible ;; 1) echo unreproducible ;; *) echo "error($1)" ;; esac; }
field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }


# compare NAME VERSION KIND EXTRA: both tools on NAME's .dsc (in its
# directory, the current one), REPS times, interleaved, with the variations
# named above less EXTRA (a factor both tools call the same, or nothing);
# appends one row to rows: every verdict, and the medians of the
# repetitions where reprotest finished (its time variation can stop a build
# with quilt patches at random, see without_time).
compare() {
  local name=$1 version=$2 kind=$3 extra=$4 tag=${4:+-without-$4}
  local ours_wall=() theirs_wall=() ours_rss=() theirs_rss=() theirs_exit=() ours_v="" theirs_v="" rep rc ours_one theirs_one
  for rep in $(seq "$reps"); do
    local ours=ours$tag-$rep theirs=theirs$tag-$rep
    rm -rf "$ours" "$theirs"
    rc=0; "$here/scripts/peak-rss.py" "$ours.json" reprocheck -- "$reprocheck" check "$name.toml" \
      --vary="-user,-domain_host${extra:+,-$extra}" --out "$ours" >"$ours.log" 2>&1 || rc=$?
    ours_v+="$(verdict $rc) "
    ours_wall+=("$(field "$ours.json" 'r["wall_s"]')")
    ours_rss+=("$(field "$ours.json" 'r["tool_kib"]')")
    ours_one=$(field "$ours.json" 'r["by_name_kib"]["reprocheck"]')
    rc=0; "$here/scripts/peak-rss.py" "$theirs.json" reprotest,autopkgtest-vir,diffoscope -- \
      env DEB_BUILD_OPTIONS=nocheck reprotest --vary="-user_group,-domain_host${extra:+,-$extra}" --store-dir "$theirs" "$dsc" -- null \
      >"$theirs.log" 2>&1 || rc=$?
    theirs_v+="$(verdict $rc) "
    theirs_exit+=("$rc")
    theirs_wall+=("$(field "$theirs.json" 'r["wall_s"]')")
    theirs_rss+=("$(field "$theirs.json" 'r["tool_kib"]')")
    theirs_one=$(field "$theirs.json" 'max(r["by_name_kib"].get(n, 0) for n in ("reprotest", "autopkgtest-vir", "diffoscope"))')
    printf '%-6s rep %d%s: reprocheck %6.1f s %5.1f MiB (one process %5.1f) %-15s reprotest %6.1f s %5.1f MiB (one process %5.1f) %s\n' \
      "$name" "$rep" "${extra:+ (without $extra)}" "${ours_wall[-1]}" "$(echo "${ours_rss[-1]} / 1024" | bc -l)" \
      "$(echo "$ours_one / 1024" | bc -l)" "$(verdict "$(field "$ours.json" 'r["exit"]')")" "${theirs_wall[-1]}" \
      "$(echo "${theirs_rss[-1]} / 1024" | bc -l)" "$(echo "$theirs_one / 1024" | bc -l)" \
      "$(verdict "$(field "$theirs.json" 'r["exit"]')")"
  done
  local ow tw orss trss same done=() i
  # Wall times compare only the repetitions where reprotest finished (0 or 1).
  for i in "${!theirs_exit[@]}"; do [ "${theirs_exit[$i]}" -le 1 ] && done+=("$i"); done
  if [ ${#done[@]} -eq 0 ]; then
    rows+=("$(printf '| %s %s%s | %s | — | — | — (reprotest never finished) | — | — | — | %s | %s | NO |' \
      "$name" "$version" "${extra:+ (without $extra)}" "$kind" "${ours_v% }" "${theirs_v% }")")
    return
  fi
  local ow_done=() tw_done=() or_done=() tr_done=()
  for i in "${done[@]}"; do
    ow_done+=("${ours_wall[$i]}") tw_done+=("${theirs_wall[$i]}") or_done+=("${ours_rss[$i]}") tr_done+=("${theirs_rss[$i]}")
  done
  ours_wall=("${ow_done[@]}") theirs_wall=("${tw_done[@]}") ours_rss=("${or_done[@]}") theirs_rss=("${tr_done[@]}")
  ow=$(median "${ours_wall[@]}") tw=$(median "${theirs_wall[@]}")
  orss=$(median "${ours_rss[@]}") trss=$(median "${theirs_rss[@]}")
  same=$([ "$ours_v" = "$theirs_v" ] && echo yes || echo "NO")
  rows+=("$(printf '| %s %s%s | %s | %.1f s | %.1f s | %.2f | %.1f MiB | %.1f MiB | %.2f | %s | %s | %s |' \
    "$name" "$version" "${extra:+ (without $extra)}" "$kind" "$ow" "$tw" "$(echo "$ow / $tw" | bc -l)" \
    "$(echo "$orss / 1024" | bc -l)" "$(echo "$trss / 1024" | bc -l)" "$(echo "$orss / $trss" | bc -l)" \
    "${ours_v% }" "${theirs_v% }" "$same")")
}

rows=()
for entry in "${packages[@]}"; do
  read -r pin sha kind <<<"$entry"
  name=${pin%%=*} version=${pin#*=}
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  dsc=${name}_${version#*:}.dsc
  dir=$work/$name
  mkdir -p "$dir/image"
  cd "$dir"
  [ -f "$dsc" ] || "$here/scripts/apt-source.sh" "$pin"
  echo "$sha  $dsc" | sha256sum -c --quiet
  # reprotest builds on the host: the build dependencies go there.
  DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q "./$dsc" >"$dir/build-dep.log" 2>&1 ||
    { echo "apt-get build-dep ./$dsc failed; see $dir/build-dep.log" >&2; exit 2; }
  cat >image/recipe.toml <<RECIPE
# $name's build environment for the benchmark: its .dsc's build dependencies.
name = "reprocheck/bench-debian-$name"
suite = "bookworm"
variant = "apt"
packages = ["build-essential", "fakeroot", "tzdata"]
build_depends = "../$dsc"
source_date_epoch = 1747699200
RECIPE
  cat >"$name.toml" <<SPEC
name = "bench-debian-$name"
[image]
name = "reprocheck/bench-debian-$name"
recipe = "image"
[source]
dsc = "$dsc"
sha256 = "$sha"
[build]
# reprotest's preset for a .dsc builds with this command.
command = "dpkg-buildpackage --no-sign -b"
outputs = ["../*.deb"]
env = { DEB_BUILD_OPTIONS = "nocheck" }
source_date_epoch = "changelog"
timeout = "30m"
SPEC
  "$reprocheck" image build image >"$dir/image.log" 2>&1 ||
    { echo "building $name's image failed; see $dir/image.log" >&2; exit 2; }

  compare "$name" "$version" "$kind" ""
  # reprotest's time variation cannot build some packages at all (below):
  # those are compared once more with time left out on both sides.
  if [[ " $without_time " == *" $name "* ]]; then compare "$name" "$version" "$kind" time; fi
done

echo
echo "reps: ${reps} per package (medians), interleaved; reprotest $(dpkg-query -W -f '${Version}' reprotest), $("$reprocheck" --version)"
echo "| package | kind | reprocheck wall | reprotest wall | ratio (≤ 0.7) | reprocheck RSS | reprotest RSS | ratio (≤ 0.5) | reprocheck | reprotest | same verdict |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
