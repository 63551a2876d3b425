# Sourced by the bench-*.sh scripts from the repository root: builds the
# release binary ($bin), reads the pinned image ($digest), makes a scratch
# directory ($work, removed on exit), and writes specs into it.
cargo build --release -q
bin=$PWD/target/release/reprocheck
# The bundled recipe's lock pins the image (written by the first --build-missing).
digest=$(sed -n 's/^image = "\(sha256:[0-9a-f]*\)".*/\1/p' specs/containers/debian-bookworm/packages.lock 2>/dev/null | head -n1)
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
