#!/usr/bin/env bash
# Measures what moving the bundled toolchain image costs (issue 34), on a
# fresh engine: a Podman service of its own (empty storage under a temporary
# directory, its own socket), so nothing is already there.
#  - pull: `check` of a spec pinning the image by registry reference, in the
#    empty engine, minus the same `check` with the image present;
#  - `image save`: its time and the archive's size;
#  - load: `check --images-dir` after the image is removed from the fresh
#    engine, minus the `check` with the image present.
# The registry is the tests' loopback one (127.0.0.1:47123, reused when it
# answers; Podman pulls from it over HTTP because .ci/run lists it in
# /etc/containers/registries.conf.d/reprocheck-tests.conf).
# Needs docker-registry, skopeo, podman, bc, and the bundled image in the
# default engine (run the README's quick start first).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -q
bin=$PWD/target/release/reprocheck
recipe=specs/$(sed -n 's/^recipe = "\(.*\)"/\1/p' specs/hello.toml)
digest=$(sed -n 's/^image = "\(sha256:[0-9a-f]*\)".*/\1/p' "$recipe/packages.lock" | head -n1)
[ -n "$digest" ] || { echo "no lock in $recipe: run $bin check specs/hello.toml --build-missing" >&2; exit 2; }
registry=127.0.0.1:47123
[ -f /etc/containers/registries.conf.d/reprocheck-tests.conf ] ||
  { echo "Podman cannot pull from $registry over HTTP: run .ci/run's 'test registry' step first" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  podman --root "$work/storage" --runroot "$work/run" rmi -af >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if ! curl -sf "http://$registry/v2/" >/dev/null; then
  printf 'version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n' \
    "$work/registry" "$registry" >"$work/registry.yml"
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://$registry/v2/" >/dev/null && break; sleep 0.1; done
fi

# The bundled image, pushed as it is (its id unchanged).
"$bin" -q image save specs/hello.toml "$work/bundled" >/dev/null
repo="measure/toolchain-$$"
skopeo copy -q --dest-tls-verify=false "docker-archive:$work/bundled/${digest#sha256:}.tar" "docker://$registry/$repo:v1"
rm -rf "$work/bundled"

# A fresh engine.
socket=$work/podman.sock
podman --root "$work/storage" --runroot "$work/run" system service --time=0 "unix://$socket" >"$work/podman.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.2; done
export DOCKER_HOST=unix://$socket

mkdir -p "$work/spec" && cp -a specs/hello "$work/spec/hello"
cat >"$work/spec/measure.toml" <<SPEC
name = "measure"
[image]
reference = "$registry/$repo:v1"
[source]
path = "hello"
[build]
command = "make dist"
outputs = ["out/hello", "dist/*.tar.gz"]
source_date_epoch = 1700000000
SPEC
"$bin" -q lock "$work/spec/measure.toml" >/dev/null
id=$(sed -n 's/^digest = "\(.*\)"/\1/p' "$work/spec/measure.toml")
[ "$id" = "$digest" ] || { echo "the registry's image is $id, not the bundled $digest" >&2; exit 1; }
check() { "$bin" -q check "$work/spec/measure.toml" --vary none --out "$work/out" "$@" >/dev/null; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc; }
podman_fresh() { podman --url "unix://$socket" "$@"; }

pull_check=$(seconds check)
present_check=$(seconds check)
save=$(seconds "$bin" -q image save "$work/spec/measure.toml" "$work/images")
archive="$work/images/${id#sha256:}.tar"
size=$(stat -c %s "$archive")
podman_fresh rmi -f "$id" >/dev/null
load_check=$(seconds check --images-dir "$work/images")
loaded=$(podman_fresh image inspect --format '{{.Id}}' "$id")

printf 'image:                      %s (the bundled one, %s)\n' "$id" "$recipe"
printf 'engine:                     a fresh Podman %s (empty storage)\n' "$(podman --version | awk '{print $3}')"
printf 'check, pulling the image:   %.1f s\n' "$pull_check"
printf 'check, image present:       %.1f s\n' "$present_check"
printf 'pull (the difference):      %.1f s\n' "$(echo "$pull_check - $present_check" | bc)"
printf 'image save:                 %.1f s, %s bytes (%.0f MiB)\n' "$save" "$size" "$(echo "$size / 1048576" | bc)"
printf 'check, loading the archive: %.1f s (loaded id %s)\n' "$load_check" "$loaded"
printf 'load (the difference):      %.1f s\n' "$(echo "$load_check - $present_check" | bc)"
