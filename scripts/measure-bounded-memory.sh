#!/usr/bin/env bash
# Hostile inputs of issue 32, item 7, measured: peak RSS (KiB, /usr/bin/time
# %M: the maximum resident set size) and wall time of the release binary's
# `diff`, `verify` and `attest verify` on each. Every peak must stay at or
# below 256 MiB; the script prints one table row per input and exits 1 when
# one does not.
#
#   scripts/measure-bounded-memory.sh            # diff and attest verify only
#   VERIFY=1 scripts/measure-bounded-memory.sh   # verify too (Docker, the pinned image)
#   SHOW=1 scripts/measure-bounded-memory.sh     # and what each invocation printed
#   BASELINE=/tmp/old/release/reprocheck scripts/measure-bounded-memory.sh
#
# The inputs (built in a scratch directory, removed on exit; ~1.7 GB of disk):
#   elf-a, elf-b   8 MB ELF files: 1000 symbols whose names are suffixes of one
#                  8 MB string (the last byte differs between the two)
#   recs-a/b.tar   ~100 MB tars: ~29,000 members, each after a pax header of 255
#                  records (~7.4 million records); b's last member has one
#                  different record
#   value-a/b.tar  ~100 MB tars: one member after a 100 MB pax value (differing)
#   huge.dsse.json a 300 MB "envelope"
#   big.bin        a 1 GiB artifact, with a signed envelope naming it
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/reprocheck
limit_kib=$((256 * 1024))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import hashlib, struct, sys, tarfile, io
work = sys.argv[1]

def elf(strtab, offsets):
    shstrtab = b"\0.symtab\0.strtab\0.shstrtab\0"
    symtab = bytearray(24)
    for off in offsets:
        symtab += struct.pack("<IBBHQQ", off, 0x11, 0, 0xfff1, 0, 0)
    body = bytearray(64)
    at_sym = len(body); body += symtab
    at_str = len(body); body += strtab
    at_shs = len(body); body += shstrtab
    while len(body) % 8:
        body += b"\0"
    shoff = len(body)
    sh = lambda name, kind, off, size, link, info, ent: struct.pack(
        "<IIQQQQIIQQ", name, kind, 0, 0, off, size, link, info, 1, ent)
    body += bytes(64)
    body += sh(1, 2, at_sym, len(symtab), 2, 1, 24)
    body += sh(9, 3, at_str, len(strtab), 0, 0, 0)
    body += sh(17, 3, at_shs, len(shstrtab), 0, 0, 0)
    body[:64] = (b"\x7fELF\x02\x01\x01" + bytes(9) +
                 struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 4, 3))
    return bytes(body)

for side, last in (("a", b"x"), ("b", b"y")):
    strtab = b"\0" + b"a" * (8 << 20) + last + b"\0"
    open(f"{work}/elf-{side}", "wb").write(elf(strtab, range(1, 1001)))

def block(name, typeflag, size):
    h = bytearray(512)
    h[:len(name)] = name
    h[100:108] = b"0000644\0"; h[108:116] = b"0000000\0"; h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size; h[136:148] = b"00000000000\0"
    h[156:157] = typeflag; h[257:265] = b"ustar\x0000"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)

def pad(data):
    return data + bytes(-len(data) % 512)

def record(key, value):
    body = key + b"=" + value + b"\n"
    n = len(body) + 2
    while len(b"%d " % n) + len(body) != n:
        n += 1
    return b"%d " % n + body

def pax_member(records, name):
    return block(b"pax", b"x", len(records)) + pad(records) + block(name, b"0", 0)

recs = b"".join(record(b"k%d" % i, b"v") for i in range(255))
chunk = b"".join(pax_member(recs, b"pkg/m%d" % i) for i in range(1000))
members = 29
for side in "ab":
    with open(f"{work}/recs-{side}.tar", "wb") as f:
        for _ in range(members):
            f.write(chunk)  # the same names again: a hostile archive repeats them
        last = b"".join(record(b"k%d" % i, b"v" if side == "a" or i else b"w") for i in range(255))
        f.write(pax_member(last, b"pkg/last") + bytes(1024))
    with open(f"{work}/value-{side}.tar", "wb") as f:
        value = record(b"comment", b"c" * (100 << 20) + side.encode())
        f.write(block(b"pax", b"x", len(value)) + pad(value) + block(b"pkg/a", b"0", 0) + bytes(1024))

with open(f"{work}/huge.dsse.json", "wb") as f:
    f.write(b'{"payload": "' + b"A" * (300 << 20) + b'", "payloadType": "x", "signatures": []}')
PY

# The 1 GiB artifact and a real envelope naming it, signed by a fresh key.
head -c $((1 << 30)) /dev/urandom > "$work/big.bin"
"$bin" keygen "$work/k" >/dev/null
python3 - "$work" "$(sha256sum "$work/big.bin" | cut -d' ' -f1)" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives.serialization import load_pem_private_key
work, sha = sys.argv[1], sys.argv[2]
key = load_pem_private_key(open(f"{work}/k.key", "rb").read(), None)
payload = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                      "subject": [{"name": "big.bin", "digest": {"sha256": sha}}],
                      "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}).encode()
kind = "application/vnd.in-toto+json"
pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind.encode(), len(payload), payload)
envelope = {"payload": base64.b64encode(payload).decode(), "payloadType": kind,
            "signatures": [{"keyid": "", "sig": base64.b64encode(key.sign(pae)).decode()}]}
open(f"{work}/big.dsse.json", "w").write(json.dumps(envelope))
PY

failed=0
# measure BIN LABEL ARGS...: peak RSS and wall time of one invocation, its
# exit code and the first line that says what it concluded.
measure() {
  local bin=$1 label=$2; shift 2
  local rc=0
  /usr/bin/time -f '%M %e' -o "$work/time" "$bin" "$@" >"$work/log" 2>&1 || rc=$?
  read -r kib secs < <(tail -n1 "$work/time")
  local said
  said=$(grep -m1 -v '^ *$' "$work/log" | cut -c1-100 || true)
  printf '| %-40s | %-8s | %6s MiB | %6s s | exit %s | %s\n' "$label" \
    "$(basename "$(dirname "$(dirname "$bin")")")" "$((kib / 1024))" "$secs" "$rc" "$said"
  printf '|   stdout+stderr: %s bytes\n' "$(wc -c <"$work/log")"
  # SHOW=1: what it printed (the first 40 lines, each cut at 160 bytes).
  if [ -n "${SHOW:-}" ]; then head -n 40 "$work/log" | cut -c1-160 | sed 's/^/|     /'; fi
  [ "$kib" -le "$limit_kib" ] || failed=1
}

echo "| input | binary | peak RSS | wall | exit | first line |"
echo "|---|---|---|---|---|---|"
for b in ${BASELINE:-} "$bin"; do
  measure "$b" "diff: ELF, 1000 x 8 MB symbol names" diff "$work/elf-a" "$work/elf-b"
  measure "$b" "diff: tars, 7.4M pax records" diff "$work/recs-a.tar" "$work/recs-b.tar"
  measure "$b" "diff: tars, one 100 MB pax value" diff "$work/value-a.tar" "$work/value-b.tar"
  measure "$b" "attest verify: 300 MB envelope" attest verify "$work/huge.dsse.json" --key "$work/k.pub"
  measure "$b" "attest verify: 1 GiB artifact" attest verify "$work/big.dsse.json" --key "$work/k.pub" \
    --artifact "$work/big.bin"
done

if [ "${VERIFY:-0}" = 1 ]; then
  # verify: the build copies one version into out/, the other is the reference.
  digest=$(sed -n 's/^image = "\(sha256:[0-9a-f]*\)".*/\1/p' specs/containers/debian-trixie/packages.lock 2>/dev/null | head -n1)
  docker image inspect "$digest" >/dev/null 2>&1 ||
    { echo "pinned image ${digest:-(no lock yet)} missing: run $bin check specs/hello.toml --build-missing" >&2; exit 2; }
  for input in elf recs value; do
    mkdir -p "$work/v-$input/src"
    case $input in
      elf) cp "$work/elf-b" "$work/v-$input/src/x"; ref=$work/elf-a ;;
      *) cp "$work/$input-b.tar" "$work/v-$input/src/x"; ref=$work/$input-a.tar ;;
    esac
    printf '[image]\ndigest = "%s"\n[source]\npath = "src"\n[build]\ncommand = "mkdir -p out && cp x out/x"\noutputs = ["out/x"]\n' \
      "$digest" > "$work/v-$input/spec.toml"
  done
  for b in ${BASELINE:-} "$bin"; do
    for input in elf recs value; do
      case $input in elf) ref=$work/elf-a ;; *) ref=$work/$input-a.tar ;; esac
      rm -rf "$work/out"
      measure "$b" "verify: $input" verify "$work/v-$input/spec.toml" --expect-file "out/x=$ref" --out "$work/out"
    done
  done
fi
exit $failed
