# Sourced by the bench-*.sh scripts from the repository root: builds the
# release binary ($bin, under $CARGO_TARGET_DIR when set), reads the pinned
# image ($digest), makes a scratch directory ($work, removed on exit), and
# writes specs into it.
cargo build --release -q
target=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target/release/reprocheck
# The bundled recipe's lock pins the image (written by the first --build-missing).
digest=$(sed -n 's/^image = "\(sha256:[0-9a-f]*\)".*/\1/p' specs/containers/debian-trixie/packages.lock 2>/dev/null | head -n1)
docker image inspect "$digest" >/dev/null 2>&1 ||
  { echo "pinned image ${digest:-(no lock yet)} missing: run $bin check specs/hello.toml --build-missing" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"

# bench_spec NAME COMMAND: $work/NAME.toml builds $work/src with COMMAND,
# outputs out/, on the pinned image (2 runs). Prints the spec's path.
bench_spec() {
  cat > "$work/$1.toml" <<SPEC
name = "$1"
[image]
digest = "$digest"
[source]
path = "src"
[build]
command = "$2"
outputs = ["out"]
[check]
runs = 2
SPEC
  echo "$work/$1.toml"
}

# start_loopback_endpoints: a TLS and an SSH endpoint on 127.0.0.1 in front
# of the same engine (examples/loopback_endpoints.rs), served until the
# script exits. Sets $tls_env and $ssh_env (VAR=value words for env).
start_loopback_endpoints() {
  cargo build --release -q --example loopback_endpoints
  local fifo=$work/endpoints.in
  mkfifo "$fifo"
  "$target/release/examples/loopback_endpoints" <"$fifo" >"$work/endpoints" &
  endpoints_pid=$!
  exec 3>"$fifo" # the server runs until this closes
  trap 'exec 3>&-; wait $endpoints_pid 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do [ "$(wc -l <"$work/endpoints")" -ge 2 ] && break; sleep 0.1; done
  tls_env=$(sed -n 's/^tls //p' "$work/endpoints")
  ssh_env=$(sed -n 's/^ssh //p' "$work/endpoints")
  [ -n "$tls_env" ] && [ -n "$ssh_env" ] || { echo "the loopback endpoints did not start" >&2; exit 2; }
}
