#!/usr/bin/env bash
# Debian's hello 2.10-3, as a distro maintainer would stress-test it: rebuilt
# by reprocheck (check, then explain) and by reprotest on the same source,
# once as published and once with two leaks injected into the same .deb
# (the build directory and the build date, in one installed file).
# Prints verdicts, culprits, builds and wall time side by side.
#
#   scripts/realworld-debian-hello.sh [WORKDIR]     (default: /tmp/reprocheck-debian-hello)
#
# Needs: a running engine, reprotest and the package's build dependencies on
# the host (reprotest builds on the host); the source comes through
# scripts/apt-source.sh (deb-src lines derived from the host's own sources).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
reprocheck=${REPROCHECK:-$here/target/release/reprocheck}
work=${1:-/tmp/reprocheck-debian-hello}
dsc_sha256=75296f5ef618ae2f1849e22b142a2b5ab52c452ebefa4e7b0564c44617db3790
mkdir -p "$work"
cd "$work"

# The source package, pinned by the .dsc's sha256 (its files are checked by dpkg-source).
[ -f hello_2.10-3.dsc ] || "$here/scripts/apt-source.sh" hello=2.10-3
echo "$dsc_sha256  hello_2.10-3.dsc" | sha256sum -c --quiet
rm -rf published leaky
mkdir published leaky
dpkg-source -x hello_2.10-3.dsc published/hello-2.10 >/dev/null
dpkg-source -x hello_2.10-3.dsc leaky/hello-2.10 >/dev/null
# The leaks: the build directory and the build date, one line each, in one file of the .deb.
cat >> leaky/hello-2.10/debian/rules <<'EOF'

override_dh_auto_install:
	dh_auto_install
	mkdir -p debian/hello/usr/share/doc/hello
	echo "built in $(CURDIR)" > debian/hello/usr/share/doc/hello/BUILT
	date -u >> debian/hello/usr/share/doc/hello/BUILT
EOF

# hello's build dependencies in an image of their own, locked like any recipe.
mkdir -p image
cat > image/recipe.toml <<'EOF'
name = "reprocheck/debian-hello-build"
suite = "bookworm"
variant = "apt"
packages = ["build-essential", "tzdata", "debhelper", "help2man", "texinfo", "fakeroot", "dpkg-dev"]
source_date_epoch = 1747699200
EOF
"$reprocheck" image build image >/dev/null

for tree in published leaky; do
  cat > "$tree.toml" <<EOF
name = "hello-$tree"
[image]
name = "reprocheck/debian-hello-build"
recipe = "image"
[source]
path = "$tree/hello-2.10"
[build]
# dpkg-buildpackage writes into the parent directory; move the results into the tree.
command = "dpkg-buildpackage -b -uc -us && mkdir -p out && mv ../hello_*.deb ../hello-dbgsym_*.deb ../hello_*.buildinfo out/"
outputs = ["out/*.deb", "out/*.buildinfo"]
timeout = "30m"
EOF
done

# Runs a command quietly into LOG; sets rc and took (seconds).
timed() { local log=$1; shift; local start=$SECONDS; rc=0; "$@" >"$log" 2>&1 || rc=$?; took=$((SECONDS - start)); }
reprotest_verdict() { case $1 in 0) echo reproducible ;; 1) echo unreproducible ;; *) echo "error (exit $1)" ;; esac; }
summary() { # results dir -> one line
  python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))
e = r.get("explanation")
if not e:
    diff = [d["path"] for d in (r.get("comparison") or {}).get("differences", [])]
    print(f'{r["verdict"]}; {len(r["runs"])} builds; differ: {", ".join(diff) or "-"}')
    sys.exit()
parts = []
for path in e["nondeterministic"]:
    places = "; ".join(e["nondeterministic_places"].get(path, [])) or "whole"
    parts.append(f'{path.split("/")[-1]}: nondeterministic ({places})')
for b in e["blamed"]:
    causes = "; ".join(" + ".join(c) for c in b["culprits"]) or "not isolated"
    parts.append(f'{b["path"].split("/")[-1]}: {causes}' + (" (beyond nondeterminism)" if b["beyond_nondeterminism"] else ""))
print(f'{r["verdict"]}; {e["builds"]} builds in {e["rounds"]} rounds; ' + " | ".join(parts))
EOF
}

# One result line per run, kept in WORKDIR/summary/ so that TREES="leaky"
# reruns one tree and the table still shows both.
mkdir -p summary
record() { echo "$2" > "summary/$1"; }
reprotest_culprits() { sed -n '/^Observed unreproducibility when varying each of the following:/,/^The build is probably/p' "$1" \
  | sed '1d;$d' | tr '\n' ' '; }
for tree in ${TREES:-published leaky}; do
  rm -rf "res-$tree" "res-$tree-explain" "rt-$tree" "rt-$tree-auto"
  timed "res-$tree.log" "$reprocheck" check "$tree.toml" --out "res-$tree"
  record "check-$tree" "$(summary "res-$tree") [${took}s]"
  timed "res-$tree-explain.log" "$reprocheck" explain "$tree.toml" --out "res-$tree-explain"
  record "explain-$tree" "$(summary "res-$tree-explain") [${took}s]"
  # reprotest on the same tree, on the host (null server), with every
  # variation it can apply here as root without extra users.
  timed "rt-$tree.log" reprotest --vary=-user_group,-domain_host --store-dir "rt-$tree" "$tree/hello-2.10" -- null
  record "reprotest-$tree" "$(reprotest_verdict $rc) [${took}s]"
  timed "rt-$tree-auto.log" reprotest --auto-build --vary=-user_group,-domain_host --store-dir "rt-$tree-auto" "$tree/hello-2.10" -- null
  record "reprotest-auto-$tree" "$(reprotest_verdict $rc); varying each of: $(reprotest_culprits "rt-$tree-auto.log" || true) [${took}s]"
done
printf '\n%-34s %s\n' "run" "result [wall time]"
for tree in published leaky; do
  for key in check explain reprotest reprotest-auto; do
    printf '%-34s %s\n' "$key $tree" "$(cat "summary/$key-$tree" 2>/dev/null || echo "(not run)")"
  done
done
