#!/usr/bin/env python3
"""Write a deterministic corpus of published/rebuilt archive pairs for `reprocheck verify`.

Usage: make_corpus.py OUTDIR

Writes OUTDIR/published/<case>, OUTDIR/rebuilt/<case> (same file name, different
bytes), OUTDIR/published/SHA256SUMS and OUTDIR/cases.json.  "honest" pairs differ
only in what content-match may ignore (times, owners, order, header encoding,
compression); "crafted" pairs have a clean rebuild and a published archive that
carries one trick written byte by byte.  Standard library only; every run writes
the same bytes (fixed times, no randomness).
"""
import gzip
import hashlib
import io
import json
import os
import stat
import struct
import sys
import tarfile
import zipfile
import zlib
from base64 import urlsafe_b64encode

MTIME, MTIME2 = 1700000000, 1710000000
DOS, DOS2 = (2023, 11, 14, 22, 13, 20), (2024, 3, 9, 16, 0, 0)
EOA = b"\0" * 1024                      # tar end-of-archive: two zero blocks
GNU_MAGIC = dict(magic=b"ustar ", version=b" \0")


# --- the honest content ------------------------------------------------------

def F(name, data, mode=0o644):
    return {"name": name, "type": "file", "mode": mode, "data": data}


def D(name, mode=0o755):
    return {"name": name, "type": "dir", "mode": mode}


def S(name, target):
    return {"name": name, "type": "sym", "mode": 0o777, "target": target}


def H(name, target):
    return {"name": name, "type": "hard", "mode": 0o644, "target": target}


README = b"hello from reprocheck\n"
BLOB = bytes((i * 7 + 3) % 251 + 1 for i in range(2048))  # 4 blocks, no zero byte: holes show
TEXT = b"".join(b"line %d: %s\n" % (i, b"abcdefghij"[i % 10:] * 3) for i in range(800))
RUN = F("pkg/run.sh", b"#!/bin/sh\necho run\n", 0o755)
PWNED = F("pkg/run.sh", b"#!/bin/sh\necho PWNED\n", 0o755)

# Directories come first and a hardlink after its target, so any order keeps them valid.
TAR_BASE = [D("pkg/"), F("pkg/README", README), F("pkg/tool", b"#!/bin/sh\necho tool\n", 0o755),
            F("pkg/suid", b"#!/bin/sh\nid\n", 0o4755), S("pkg/link", "README"), D("pkg/data/"),
            F("pkg/data/blob.bin", BLOB), F("pkg/data/text.txt", TEXT), F("pkg/empty", b""),
            H("pkg/hard", "pkg/data/text.txt")]   # no trick touches text.txt, so the link holds
# Zip has no portable symlinks or hardlinks (zipfile writes a symlink entry as a file).
ZIP_BASE = [D("pkg/"), F("pkg/README", README), F("pkg/tool.sh", b"#!/bin/sh\necho tool\n", 0o755),
            D("pkg/data/"), F("pkg/data/blob.bin", BLOB), F("pkg/data/text.txt", TEXT),
            F("pkg/empty", b"")]
LONG_DIR = "pkg/" + "d" * 70 + "/"
LONG_BASE = TAR_BASE + [D(LONG_DIR), F(LONG_DIR + "f" * 60 + ".txt", b"long name\n")]


def replace(entries, name, new):
    """entries with the member called name swapped for new (or dropped when new is None)."""
    return [new if e["name"] == name else e for e in entries if new is not None or e["name"] != name]


# --- honest writers (the libraries, used normally) ------------------------------

TAR_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE}


def tar_with(entries, fmt=tarfile.PAX_FORMAT, mtime=MTIME, owner=(0, 0, "root", "root"), pax=None):
    """A tar written by tarfile; pax adds extended records to every member."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type, ti.mode, ti.mtime = TAR_TYPES[e["type"]], e["mode"], mtime
            ti.uid, ti.gid, ti.uname, ti.gname = owner
            ti.linkname = e.get("target", "")
            ti.size = len(e.get("data", b""))
            if pax:
                ti.pax_headers = dict(pax)
            tf.addfile(ti, io.BytesIO(e["data"]) if e["type"] == "file" else None)
    return buf.getvalue()


def gz(data, mtime=MTIME, name="", level=9):
    """gzip with a fixed header (mtime, optional FNAME) so output is reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buf, mtime=mtime, compresslevel=level) as g:
        g.write(data)
    return buf.getvalue()


def unix_attr(e):
    kind = stat.S_IFDIR if e["type"] == "dir" else stat.S_IFREG
    return ((kind | e["mode"]) << 16) | (0x10 if e["type"] == "dir" else 0)


def zip_with(entries, date=DOS, level=6, ext_time=None):
    """A zip written by zipfile; ext_time adds the 0x5455 extended-timestamp field."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for e in entries:
            zi = zipfile.ZipInfo(e["name"], date)
            zi.create_system, zi.external_attr = 3, unix_attr(e)
            data = e.get("data", b"")
            zi.compress_type = zipfile.ZIP_DEFLATED if data else zipfile.ZIP_STORED
            if ext_time is not None:
                zi.extra = struct.pack("<HHBL", 0x5455, 5, 1, ext_time)
            zf.writestr(zi, data, compresslevel=level)
    return buf.getvalue()


def wheel(dist, module=b"print('hi')\n"):
    """Entries of a minimal wheel: module, METADATA, WHEEL and a RECORD listing them."""
    info = f"{dist}-1.0.dist-info/"
    files = [F(f"{dist}/__init__.py", module), F(f"{dist}/cli.py", b"def main():\n    pass\n"),
             F(info + "METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n".encode()),
             F(info + "WHEEL", b"Wheel-Version: 1.0\nGenerator: oracle\nRoot-Is-Purelib: true\nTag: py3-none-any\n")]
    record = "".join("%s,sha256=%s,%d\n" % (e["name"], urlsafe_b64encode(
        hashlib.sha256(e["data"]).digest()).rstrip(b"=").decode(), len(e["data"])) for e in files)
    return files + [F(info + "RECORD", (record + info + "RECORD,,\n").encode())]


# --- raw tar (for what tarfile refuses to write) -------------------------------

def octal(n, width):
    return b"%0*o\0" % (width - 1, n)


def pad(data):
    return data + b"\0" * (-len(data) % 512)


def header(name, size=0, typeflag=b"0", mode=0o644, linkname="", magic=b"ustar\0", version=b"00",
           prefix=b"", raw=()):
    """One 512-byte tar header; raw is (offset, bytes) patches applied before the checksum."""
    h = bytearray(512)
    name, linkname = name.encode(), linkname.encode()
    assert len(name) <= 100 and len(linkname) <= 100, name
    for off, val in ((0, name), (100, octal(mode, 8)), (108, octal(0, 8)), (116, octal(0, 8)),
                     (124, octal(size, 12)), (136, octal(MTIME, 12)), (156, typeflag),
                     (157, linkname), (257, magic), (263, version), (265, b"root"), (297, b"root"),
                     (329, octal(0, 8)), (337, octal(0, 8)), (345, prefix), *raw):
        h[off:off + len(val)] = val
    h[148:156] = b"        "                 # the checksum counts its own field as spaces
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pax_record(key, value):
    """'<len> key=value\\n' where len counts the whole record, its own digits included."""
    value = value if isinstance(value, bytes) else str(value).encode()
    body = b" %s=%s\n" % (key.encode(), value)
    n = len(body) + 1
    while len(b"%d" % n) + len(body) != n:
        n = len(b"%d" % n) + len(body)
    return b"%d%s" % (n, body)


def pax_member(records, typeflag=b"x", name="PaxHeaders/member"):
    data = b"".join(pax_record(k, v) for k, v in records)
    return header(name, len(data), typeflag) + pad(data)


def gnu_long(typeflag, value):
    """A ././@LongLink record: 'L' names the next member, 'K' gives its link target."""
    data = value.encode() + b"\0"
    return header("././@LongLink", len(data), typeflag, **GNU_MAGIC) + pad(data)


def raw_member(e, pax=(), longs=(), data=None, **fields):
    """Serialise entry e; fields override header fields, data overrides the payload."""
    body = e.get("data", b"") if data is None else data
    hdr = dict(name=e["name"], size=len(e.get("data", b"")), typeflag=TAR_TYPES[e["type"]],
               mode=e["mode"], linkname=e.get("target", ""))
    hdr.update(fields)
    out = b"".join(gnu_long(t, v) for t, v in longs)
    if pax:
        out += pax_member(pax)
    return out + header(**hdr) + pad(body)


def raw_tar(entries, tweaks=None, tail=b""):
    """A hand-written tar; tweaks maps a member name to a function entry -> member bytes."""
    tweaks = tweaks or {}
    return b"".join(tweaks.get(e["name"], raw_member)(e) for e in entries) + EOA + tail


def tweak(**kw):
    return lambda e: raw_member(e, **kw)


# --- raw zip --------------------------------------------------------------------

def deflate(data, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def dos_time(dt):
    y, mo, d, h, mi, s = dt
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


def zrec(e, **kw):
    """Zip record fields for entry e; kw overrides them.  Local-header fields start with
    'l' and default to the central ones; 'at' makes a central record reuse the local
    header of the record with that name."""
    data = e.get("data", b"")
    method = 8 if data else 0
    payload = deflate(data) if method else data
    r = dict(name=e["name"], method=method, crc=zlib.crc32(data), csize=len(payload),
             usize=len(data), extra=b"", payload=payload, system=3, attr=unix_attr(e))
    r.update(kw)
    for k in ("name", "method", "crc", "csize", "usize", "extra"):
        r.setdefault("l" + k, r[k])
    return r


def central_dir(records, start):
    t, d = dos_time(DOS)
    cd = b"".join(struct.pack("<4s6H3L5H2L", b"PK\1\2", (r["system"] << 8) | 20, 20, 0, r["method"], t, d,
                              r["crc"], r["csize"], r["usize"], len(r["name"].encode()), len(r["extra"]),
                              0, 0, 0, r["attr"], r["offset"]) + r["name"].encode() + r["extra"]
                  for r in records)
    eocd = struct.pack("<4s4H2LH", b"PK\5\6", 0, 0, len(records), len(records), len(cd), start, 0)
    return cd + eocd


def raw_zip(records, tail=b"", shadow=None):
    """A hand-written zip.  shadow: records listed in an earlier central directory + EOCD
    that is written before the real one (its extra members get local headers too)."""
    out, first = b"", {}
    t, d = dos_time(DOS)
    for r in records + [r for r in shadow or [] if r not in records]:
        if "at" in r:
            r["offset"] = first[r["at"]]
            continue
        r["offset"] = len(out)
        first.setdefault(r["name"], r["offset"])
        out += struct.pack("<4s5H3L2H", b"PK\3\4", 20, 0, r["lmethod"], t, d, r["lcrc"], r["lcsize"],
                           r["lusize"], len(r["lname"].encode()), len(r["lextra"]))
        out += r["lname"].encode() + r["lextra"] + r["payload"]
    if shadow:
        out += central_dir(shadow, len(out))
    return out + central_dir(records, len(out)) + tail


def zrecs(entries, tweaks=None, extra=()):
    """Records for entries, tweaks mapping a name to override fields; extra records appended."""
    tweaks = tweaks or {}
    return [zrec(e, **tweaks.get(e["name"], {})) for e in entries] + list(extra)


def unicode_path(header_name, new_name):
    """Info-ZIP Unicode Path extra field (0x7075): version 1, CRC-32 of the header name, new name."""
    body = struct.pack("<BL", 1, zlib.crc32(header_name.encode())) + new_name.encode()
    return struct.pack("<HH", 0x7075, len(body)) + body


# --- the cases -----------------------------------------------------------------

CASES = []  # (file, kind, construct, published bytes, rebuilt bytes)


def case(file, kind, construct, published, rebuilt):
    CASES.append((file, kind, construct, published, rebuilt))


def honest_cases():
    # Reversed, but directories stay first and the hardlink after its target.
    order = ([e for e in TAR_BASE if e["type"] == "dir"] + [e for e in reversed(TAR_BASE) if e["type"]
             not in ("dir", "hard")] + [e for e in TAR_BASE if e["type"] == "hard"])
    base = tar_with(TAR_BASE)
    h = "honest"
    case("tar_mtime.tar", h, "member mtimes differ", base, tar_with(TAR_BASE, mtime=MTIME2))
    case("tar_owner.tar", h, "uid/gid/uname/gname differ", base,
         tar_with(TAR_BASE, owner=(1000, 1000, "builder", "builder")))
    case("tar_order.tar", h, "member order differs (dirs first, hardlink after target)", base,
         tar_with(order))
    case("tgz_header.tar.gz", h, "gzip header mtime and FNAME differ", gz(base, MTIME, "pkg.tar"),
         gz(base, 0))
    case("tgz_level.tar.gz", h, "gzip compression level 1 vs 9", gz(base, level=1), gz(base, level=9))
    case("tar_gnu_vs_ustar.tar", h, "GNU vs ustar header format", tar_with(TAR_BASE, tarfile.GNU_FORMAT),
         tar_with(TAR_BASE, tarfile.USTAR_FORMAT))
    case("tar_pax_vs_ustar.tar", h, "pax (fractional mtime record) vs ustar header format",
         tar_with(TAR_BASE, mtime=MTIME + 0.5), tar_with(TAR_BASE, tarfile.USTAR_FORMAT))
    case("tar_pax_vs_gnu_owner.tar", h, "pax uname/gname records (names > 32 chars) vs GNU format",
         tar_with(TAR_BASE, owner=(0, 0, "u" * 40, "g" * 40)), tar_with(TAR_BASE, tarfile.GNU_FORMAT))
    case("tar_long_prefix_vs_pax.tar", h, "long name as ustar prefix vs pax path",
         tar_with(LONG_BASE, tarfile.USTAR_FORMAT), tar_with(LONG_BASE))
    case("tar_long_pax_vs_gnu.tar", h, "long name as pax path vs GNU ././@LongLink",
         tar_with(LONG_BASE), tar_with(LONG_BASE, tarfile.GNU_FORMAT))
    case("tar_long_prefix_vs_gnu.tar", h, "long name as ustar prefix vs GNU ././@LongLink",
         tar_with(LONG_BASE, tarfile.USTAR_FORMAT), tar_with(LONG_BASE, tarfile.GNU_FORMAT))
    case("tar_pax_times.tar", h, "pax atime/ctime records present vs deleted",
         tar_with(TAR_BASE, pax={"atime": "1700000001.25", "ctime": "1700000002.5"}), base)
    case("tgz_everything.tar.gz", h, "mtime, owner, order, header format and gzip level all differ",
         gz(tar_with(order, tarfile.GNU_FORMAT, MTIME2, (5, 6, "a", "b")), 0, "x.tar", 1), gz(base))
    zbase = zip_with(ZIP_BASE)
    case("zip_dostime.zip", h, "zip entries with different DOS times", zbase, zip_with(ZIP_BASE, DOS2))
    case("zip_ext_time.zip", h, "with vs without the 0x5455 extended-timestamp extra field",
         zip_with(ZIP_BASE, ext_time=MTIME), zbase)
    case("zip_level.zip", h, "deflate level 1 vs 9", zip_with(ZIP_BASE, level=1), zip_with(ZIP_BASE, level=9))
    case("zip_order.zip", h, "entry order differs (directories first)",
         zip_with([e for e in ZIP_BASE if e["type"] == "dir"] + [e for e in ZIP_BASE[::-1] if e["type"] != "dir"]),
         zbase)
    whl = wheel("honestwheel")
    case("honestwheel-1.0-py3-none-any.whl", h, "wheel rebuilt with other timestamps and level",
         zip_with(whl, DOS2, 9), zip_with(whl))


def crafted_tar_cases():
    c, n = "crafted", len(README)
    honest, hidden = tar_with(TAR_BASE), raw_member(PWNED)
    readme = [e for e in TAR_BASE if e["name"] == "pkg/README"][0]
    last_readme = [e for e in TAR_BASE if e is not readme] + [readme]  # README is the last member
    tricks = [
        ("pax_size_twice", "pax 'size' twice on pkg/README (first honest, last covers a hidden pkg/run.sh)",
         raw_tar(TAR_BASE, {"pkg/README": tweak(pax=[("size", n), ("size", 512 + len(hidden))],
                                                 data=pad(README) + hidden)}), True),
        ("pax_path_twice", "pax 'path' twice: first pkg/README, last pkg/run.sh",
         raw_tar(TAR_BASE, {"pkg/README": tweak(pax=[("path", "pkg/README"), ("path", "pkg/run.sh")])}), True),
        ("pax_linkpath_twice", "pax 'linkpath' twice on symlink pkg/link: first README, last /etc/shadow",
         raw_tar(TAR_BASE, {"pkg/link": tweak(pax=[("linkpath", "README"), ("linkpath", "/etc/shadow")])}),
         True),
        ("pax_size_past_eoa", "pax 'size' twice on the last member; the last value skips the end-of-archive "
         "blocks to a hidden pkg/run.sh",
         raw_tar(last_readme, {"pkg/README": tweak(pax=[("size", n), ("size", 512 + len(EOA))],
                                                    data=pad(README) + EOA + hidden)}), False),
        ("gnu_longname_vs_pax_path", "GNU 'L' long name pkg/README and pax path pkg/run.sh on one member",
         raw_tar(TAR_BASE, {"pkg/README": tweak(longs=[(b"L", "pkg/README")], pax=[("path", "pkg/run.sh")])}),
         False),
        ("gnu_longlink_vs_pax_linkpath", "GNU 'K' long link README and pax linkpath /etc/shadow on pkg/link",
         raw_tar(TAR_BASE, {"pkg/link": tweak(longs=[(b"K", "README")], pax=[("linkpath", "/etc/shadow")])}),
         False),
        ("ustar_prefix_bad_version", "name README + prefix 'pkg' under magic 'ustar\\0' version '  ' (not 00)",
         raw_tar(TAR_BASE, {"pkg/README": tweak(name="README", prefix=b"pkg", version=b"  ")}), False),
        ("ustar_prefix_no_magic", "name README + bytes 'pkg' at 345 (prefix) with an all-zero magic (v7)",
         raw_tar(TAR_BASE, {"pkg/README": tweak(name="README", prefix=b"pkg", magic=b"\0" * 6, version=b"\0\0")}),
         False),
        ("gnu_magic_prefix", "name README + bytes 'pkg' at 345 (prefix) under GNU magic 'ustar  \\0'",
         raw_tar(TAR_BASE, {"pkg/README": tweak(name="README", prefix=b"pkg", **GNU_MAGIC)}), False),
        ("sparse_old_gnu", "old GNU 'S' sparse pkg/data/blob.bin: map 0+512,1536+512 of realsize 2048",
         raw_tar(TAR_BASE, {"pkg/data/blob.bin": tweak(
             typeflag=b"S", size=1024, data=BLOB[:1024], **GNU_MAGIC,
             raw=[(386, octal(0, 12)), (398, octal(512, 12)), (410, octal(1536, 12)),
                  (422, octal(512, 12)), (483, octal(2048, 12))])}), False),
        ("sparse_pax_00", "pax GNU.sparse 0.0 (offset/numbytes records) on pkg/data/blob.bin",
         raw_tar(TAR_BASE, {"pkg/data/blob.bin": tweak(size=1024, data=BLOB[:1024], pax=[
             ("GNU.sparse.size", 2048), ("GNU.sparse.numblocks", 2), ("GNU.sparse.offset", 0),
             ("GNU.sparse.numbytes", 512), ("GNU.sparse.offset", 1536), ("GNU.sparse.numbytes", 512)])}),
         False),
        ("sparse_pax_01", "pax GNU.sparse 0.1 (GNU.sparse.map) on pkg/data/blob.bin",
         raw_tar(TAR_BASE, {"pkg/data/blob.bin": tweak(size=1024, data=BLOB[:1024], pax=[
             ("GNU.sparse.size", 2048), ("GNU.sparse.numblocks", 2), ("GNU.sparse.map", "0,512,1536,512")])}),
         False),
        ("sparse_pax_10", "pax GNU.sparse 1.0 (map in the data, GNUSparseFile.0 name) on pkg/data/blob.bin",
         raw_tar(TAR_BASE, {"pkg/data/blob.bin": tweak(
             name="pkg/data/GNUSparseFile.0/blob.bin", size=1536, data=pad(b"2\n0\n512\n1536\n512\n") + BLOB[:1024],
             pax=[("GNU.sparse.major", 1), ("GNU.sparse.minor", 0), ("GNU.sparse.name", "pkg/data/blob.bin"),
                  ("GNU.sparse.realsize", 2048)])}), False),
        ("aregtype_slash", "AREGTYPE ('\\0') member pkg/empty/ in place of the empty file pkg/empty",
         raw_tar(TAR_BASE, {"pkg/empty": tweak(name="pkg/empty/", typeflag=b"\0")}), False),
        ("absolute_name", "member name /pkg/README instead of pkg/README",
         raw_tar(TAR_BASE, {"pkg/README": tweak(name="/pkg/README")}), False),
        ("dotdot_name", "member name pkg/../pkg/README instead of pkg/README",
         raw_tar(TAR_BASE, {"pkg/README": tweak(name="pkg/../pkg/README")}), False),
        ("typeflag_unknown", "unknown typeflag 'Z' on pkg/README",
         raw_tar(TAR_BASE, {"pkg/README": tweak(typeflag=b"Z")}), False),
        ("typeflag_volume", "GNU volume-label typeflag 'V' on pkg/README",
         raw_tar(TAR_BASE, {"pkg/README": tweak(typeflag=b"V")}), False),
        ("data_after_eoa", "a valid pkg/run.sh member after the end-of-archive zero blocks",
         raw_tar(TAR_BASE, tail=hidden + EOA), False),
        ("mode_setuid", "pkg/tool 04755 instead of 0755", raw_tar(TAR_BASE, {"pkg/tool": tweak(mode=0o4755)}),
         False),
        ("mode_world_writable", "pkg/README 0666 instead of 0644",
         raw_tar(TAR_BASE, {"pkg/README": tweak(mode=0o666)}), False),
        ("mode_sticky_dir", "directory pkg/data/ 01777 instead of 0755",
         raw_tar(TAR_BASE, {"pkg/data/": tweak(mode=0o1777)}), False),
        ("pax_global_path", "pax global header ('g') with path=pkg/run.sh; pkg/README has its own 'x' header",
         pax_member([("path", "pkg/run.sh")], b"g", "pax_global_header")
         + raw_tar(TAR_BASE, {"pkg/README": tweak(pax=[("mtime", MTIME)])}), False),
        ("symlink_target", "symlink pkg/link -> tool instead of README",
         raw_tar(TAR_BASE, {"pkg/link": tweak(linkname="tool")}), False),
    ]
    for name, construct, published, with_gz in tricks:
        case(name + ".tar", c, construct, published, honest)
        if with_gz:
            case(name + ".tar.gz", c, construct + " (gzip)", gz(published), gz(honest))
    with_run = TAR_BASE + [RUN]
    # vfs_cap_data v2 for cap_setuid,cap_sys_admin=ep: magic|effective, then permitted/inheritable words.
    cap = struct.pack("<5L", 0x02000000 | 0x1, (1 << 7) | (1 << 21), 0, 0, 0)
    case("xattr_capability.tar", c, "SCHILY.xattr.security.capability (cap_setuid,cap_sys_admin=ep) on pkg/run.sh",
         raw_tar(with_run, {"pkg/run.sh": tweak(pax=[("SCHILY.xattr.security.capability", cap)])}),
         tar_with(with_run))
    case("acl_access.tar", c, "SCHILY.acl.access user::rwx,user:0:rwx,... on pkg/run.sh",
         raw_tar(with_run, {"pkg/run.sh": tweak(pax=[(
             "SCHILY.acl.access", "user::rwx,user:0:rwx,group::r-x,mask::rwx,other::r-x")])}),
         tar_with(with_run))
    case("hardlink_header_mode.tar", c, "hardlink pkg/hard (to the 0644 text.txt) has mode 04755 in its header",
         raw_tar(TAR_BASE, {"pkg/hard": tweak(mode=0o4755)}), honest)
    case("hardlink_vs_copy.tar", c, "pkg/copy is a hardlink to pkg/README instead of a regular copy",
         raw_tar(TAR_BASE + [H("pkg/copy", "pkg/README")]), tar_with(TAR_BASE + [F("pkg/copy", README)]))


def crafted_zip_cases():
    c = "crafted"
    honest = zip_with(ZIP_BASE)
    readme = ZIP_BASE[1]
    blob = deflate(README)
    tricks = [
        ("zip_unicode_path.zip", "second identical pkg/README entry whose 0x7075 Unicode Path says pkg/run.sh",
         zrecs(ZIP_BASE, extra=[zrec(readme, extra=unicode_path("pkg/README", "pkg/run.sh"))])),
        ("zip_symlink_entry.zip", "pkg/README stored as a Unix symlink entry (attr 0o120777) with the same bytes",
         zrecs(ZIP_BASE, {"pkg/README": dict(attr=0o120777 << 16)})),
        ("zip_dir_entry.zip", "directory entry pkg/empty/ in place of the empty file pkg/empty",
         zrecs(replace(ZIP_BASE, "pkg/empty", D("pkg/empty/")))),
        ("zip_dos_host_symlink.zip", "pkg/README with made-by host 0 (MS-DOS) but Unix symlink attrs",
         zrecs(ZIP_BASE, {"pkg/README": dict(system=0, attr=0o120777 << 16)})),
        ("zip_dos_host_setuid.zip", "pkg/tool.sh with made-by host 0 (MS-DOS) but Unix mode 04755",
         zrecs(ZIP_BASE, {"pkg/tool.sh": dict(system=0, attr=0o104755 << 16)})),
        ("zip_beos_host_symlink.zip", "pkg/README with made-by host 16 (BeOS) and Unix symlink attrs",
         zrecs(ZIP_BASE, {"pkg/README": dict(system=16, attr=0o120777 << 16)})),
        ("zip_atari_host_setuid.zip", "pkg/tool.sh with made-by host 5 (Atari ST) and Unix mode 04755",
         zrecs(ZIP_BASE, {"pkg/tool.sh": dict(system=5, attr=0o104755 << 16)})),
        ("zip_setuid.zip", "pkg/tool.sh with Unix mode 04755 instead of 0755 (made-by Unix)",
         zrecs(ZIP_BASE, {"pkg/tool.sh": dict(attr=0o104755 << 16)})),
        ("zip_local_name.zip", "local header names pkg/run.sh, central directory pkg/README",
         zrecs(ZIP_BASE, {"pkg/README": dict(lname="pkg/run.sh")})),
        ("zip_local_crc.zip", "local header CRC-32 of pkg/README disagrees with the central one",
         zrecs(ZIP_BASE, {"pkg/README": dict(lcrc=zlib.crc32(README) ^ 1)})),
        ("zip_method_mismatch.zip", "pkg/README: central says stored (CRC of the raw bytes), local says deflate",
         zrecs(ZIP_BASE, {"pkg/README": dict(method=0, crc=zlib.crc32(blob), usize=len(blob), lmethod=8,
                                             lcrc=zlib.crc32(README), lusize=len(README))})),
        ("zip_shared_local.zip", "a second central record pkg/run.sh points at pkg/README's local header",
         zrecs(ZIP_BASE, extra=[zrec(readme, name="pkg/run.sh", at="pkg/README")])),
        ("zip_trailing_bytes.zip", "bytes appended after the end-of-central-directory record", None),
        ("zip_second_cd.zip", "hidden earlier central directory + EOCD listing an extra pkg/run.sh", None),
        ("zip_duplicate_name.zip", "pkg/README twice, the last copy says echo PWNED",
         zrecs(ZIP_BASE, extra=[zrec(F("pkg/README", PWNED["data"]))])),
        ("zip_backslash.zip", "pkg\\tool.sh (backslash, made-by MS-DOS) instead of pkg/tool.sh",
         zrecs(ZIP_BASE, {"pkg/tool.sh": dict(name="pkg\\tool.sh", system=0)})),
        ("zip_backslash_unix.zip", "pkg\\tool.sh (backslash, made-by Unix) instead of pkg/tool.sh",
         zrecs(ZIP_BASE, {"pkg/tool.sh": dict(name="pkg\\tool.sh")})),
        ("zip_absolute.zip", "entry name /pkg/README instead of pkg/README",
         zrecs(ZIP_BASE, {"pkg/README": dict(name="/pkg/README")})),
    ]
    for file, construct, records in tricks:
        if file == "zip_trailing_bytes.zip":
            published = raw_zip(zrecs(ZIP_BASE), tail=b"#!/bin/sh\necho PWNED\n")
        elif file == "zip_second_cd.zip":
            records = zrecs(ZIP_BASE)
            published = raw_zip(records, shadow=records + [zrec(PWNED)])
        else:
            published = raw_zip(records)
        case(file, c, construct, published, honest)
    for dist, construct, tweaks, extra in [
            ("craftunicode", "wheel: copy of craftunicode/cli.py renamed by 0x7075 to craftunicode/__init__.py",
             {}, lambda w: [zrec(w[1], extra=unicode_path(w[1]["name"], w[0]["name"]))]),
            ("craftdup", "wheel: craftdup/__init__.py twice, last copy differs (RECORD lists the first)",
             {}, lambda w: [zrec(F(w[0]["name"], b"import os; os.system('id')\n"))]),
            ("craftlocal", "wheel: local header of craftlocal/cli.py names craftlocal/__init__.py",
             {"craftlocal/cli.py": dict(lname="craftlocal/__init__.py")}, lambda w: [])]:
        w = wheel(dist)
        case(f"{dist}-1.0-py3-none-any.whl", c, construct, raw_zip(zrecs(w, tweaks, extra(w))), zip_with(w))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    honest_cases()
    crafted_tar_cases()
    crafted_zip_cases()
    for side in ("published", "rebuilt"):
        os.makedirs(os.path.join(out, side), exist_ok=True)
    meta, sums = [], []
    for file, kind, construct, published, rebuilt in CASES:
        assert published != rebuilt, f"{file}: published and rebuilt are identical"
        for side, data in (("published", published), ("rebuilt", rebuilt)):
            with open(os.path.join(out, side, file), "wb") as f:
                f.write(data)
        sums.append(f"{hashlib.sha256(published).hexdigest()}  {file}\n")
        meta.append({"file": file, "kind": kind, "construct": construct})
    with open(os.path.join(out, "published", "SHA256SUMS"), "w") as f:
        f.writelines(sums)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    kinds = [m["kind"] for m in meta]
    print(f"{len(meta)} pairs ({kinds.count('honest')} honest, {kinds.count('crafted')} crafted) in {out}")


if __name__ == "__main__":
    main()
