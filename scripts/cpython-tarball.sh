# Sourced by the CPython benchmarks: $cpython_tgz is CPython 3.11.2's
# published source tarball (Debian's python3.11 orig tarball, the release's
# tarball byte for byte), fetched once into the cache and pinned by sha256.
cpython_cache=${REPROCHECK_BENCH_CACHE:-$HOME/.cache/reprocheck/bench}
cpython_sha=2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849
cpython_tgz=$cpython_cache/python3.11_3.11.2.orig.tar.gz
mkdir -p "$cpython_cache"
if ! echo "$cpython_sha  $cpython_tgz" | sha256sum -c --quiet >/dev/null 2>&1; then
  (cd "$cpython_cache" && "$OLDPWD/scripts/apt-source.sh" python3.11)
  echo "$cpython_sha  $cpython_tgz" | sha256sum -c --quiet
fi
