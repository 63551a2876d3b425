#!/usr/bin/env python3
"""Extract every archive of a make_corpus.py corpus with every common extractor and
decide, per case, whether a content-match verdict would be safe.

Usage: extract.py OUTDIR

Tars go through GNU tar, bsdtar and Python's tarfile; zips and wheels through Info-ZIP
unzip, Python's zipfile and bsdtar (libarchive is also the tar.exe of Windows and macOS,
which both extract zips).  Each extraction runs as a child process into a fresh empty
directory with umask 0, so the modes on disk are the ones the extractor chose, and once
more under umask 077: a mode that changes was not read from the archive (a parent
directory the extractor made itself, a zip entry without Unix attributes), so extractors
are not held to agree on it.  The trees (types, modes, bytes, link targets, hardlink
groups, xattrs, ACLs; never times or owners) go to OUTDIR/oracle.json, with a table on
stdout.

A case is safe when every extractor writes the same tree from both archives, no two
extractors disagree about either archive, and no extractor fails on either archive.
Exit status: 0 when it ran, 2 when an extractor binary is missing.
"""
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

TAR_EXTRACTORS = ("gnutar", "bsdtar", "pytar")
ZIP_EXTRACTORS = ("unzip", "pyzip", "bsdtar")
APPLIES_MODES = {"gnutar", "bsdtar", "pytar", "unzip"}    # zipfile sets no modes at all
APPLIES_XATTRS = {"gnutar", "bsdtar"}                    # tarfile ignores SCHILY.* records
BINARIES = {"tar": "tar", "bsdtar": "libarchive-tools", "unzip": "unzip", "getfattr": "attr"}
STDERR_CLIP = 2000
MAX_DIFFS = 40


# --- the Python extractors, run as child processes like the others --------------

def pytar(archive, dest):
    """tarfile.extractall, refusing only what tar_filter says escapes dest; modes are kept."""
    rejected = []

    def keep_modes(member, path):
        try:
            safe = tarfile.tar_filter(member, path)
        except tarfile.FilterError as e:
            rejected.append(f"{member.name!r}: {e}")
            return None
        # tar_filter strips a leading '/' and clears setuid/setgid/sticky; take only the former.
        return member.replace(name=safe.name, linkname=safe.linkname, deep=False)

    with tarfile.open(archive, "r:*") as tf:
        tf.extractall(dest, numeric_owner=True, filter=keep_modes)
    for line in rejected:
        print("rejected", line, file=sys.stderr)
    return 1 if rejected else 0


def pyzip(archive, dest):
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    return 0


def command(extractor, archive, dest, acls=True):
    """The argv that runs extractor on archive into dest."""
    if extractor == "gnutar":
        return (["tar", "--xattrs", "--xattrs-include=*"] + (["--acls"] if acls else [])
                + ["--numeric-owner", "-xpf", archive, "-C", dest])
    if extractor == "bsdtar":
        return ["bsdtar", "-xpf", archive, "-C", dest]
    if extractor == "unzip":
        return ["unzip", "-K", "-o", archive, "-d", dest]
    return [sys.executable, os.path.abspath(__file__), "--" + extractor, archive, dest]


def spawn(argv, umask):
    """Run argv under umask; (exit status, stderr)."""
    env = dict(os.environ, LC_ALL="C.UTF-8")
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, env=env,
                           preexec_fn=lambda: os.umask(umask))
        return p.returncode, p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return "timeout", "timed out after 120 s"


def run_extractor(extractor, archive, dest, acls):
    """Extract under umask 0, then again under umask 077 into a probe directory: a mode that
    changes with the umask was not taken from the archive (e.g. a parent directory the
    extractor made itself) and is marked mode_follows_umask."""
    trees = []
    for umask, where in ((0, dest), (0o077, dest + ".probe")):
        os.makedirs(where)
        status, err = spawn(command(extractor, archive, where, acls), umask)
        trees.append(read_tree(where) if umask == 0 else read_modes(where))
        if umask == 0:
            result = {"status": status, "stderr": err[:STDERR_CLIP], "tree": trees[0]}
    for rel, rec in result["tree"].items():
        if extractor == "pyzip":
            rec.pop("mode", None)  # zipfile applies no modes: what is on disk is only the umask
        elif "mode" in rec and trees[1].get(rel, rec["mode"]) != rec["mode"]:
            rec["mode_follows_umask"] = True
    return result


# --- reading back what was written ------------------------------------------------

def unescape(name):
    """getfattr/getfacl print names with octal escapes (\\012) and '\\\\' for a backslash."""
    return re.sub(rb"\\(\\|[0-7]{3})", lambda m: b"\\" if m[1] == b"\\" else bytes([int(m[1], 8)]),
                  name.encode()).decode(errors="surrogateescape")


def listing(argv, root):
    """Run getfattr/getfacl recursively; {relative path: [lines]} for every '# file:' block."""
    p = subprocess.run(argv + [root], capture_output=True, text=True, errors="surrogateescape")
    blocks, current = {}, None
    for line in p.stdout.splitlines():
        if line.startswith("# file: "):
            current = blocks.setdefault(os.path.relpath(unescape(line[8:]), root), [])
        elif line and not line.startswith("#") and current is not None:
            current.append(line)
    return blocks


def read_xattrs(root):
    """{path: {name: hex}} including system.posix_acl_* (split off by read_tree)."""
    blocks = listing(["getfattr", "-R", "-P", "-h", "-d", "-m", "-", "--absolute-names", "-e", "hex"], root)
    return {path: dict(line.split("=", 1) for line in lines) for path, lines in blocks.items()}


def read_acls(root):
    """{path: [entries]} for paths whose ACL has more than the mode's three entries."""
    if not shutil.which("getfacl"):
        return None
    return listing(["getfacl", "-R", "-P", "-p", "-n", "--skip-base"], root)


def read_modes(root):
    """{relative path: mode} only: all the umask-077 probe extraction needs."""
    modes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                modes[os.path.relpath(path, root)] = "%04o" % (os.lstat(path).st_mode & 0o7777)
    return modes


def read_tree(root):
    """{relative path: record} for everything under root, never following symlinks."""
    tree, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel, st = os.path.relpath(path, root), os.lstat(path)
            if os.path.islink(path):
                tree[rel] = {"type": "symlink", "target": os.readlink(path)}
                continue
            rec = {"mode": "%04o" % (st.st_mode & 0o7777)}
            if os.path.isdir(path):
                rec["type"] = "dir"
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    rec.update(type="file", sha256=hashlib.sha256(f.read()).hexdigest())
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            else:
                rec.update(type="other:%o" % (st.st_mode >> 12), rdev=[os.major(st.st_rdev), os.minor(st.st_rdev)])
            tree[rel] = rec
    for group in inodes.values():                       # hardlinks: who shares this inode
        for rel in group:
            tree[rel]["links"] = sorted(group)
    acls = read_acls(root)
    for rel, attrs in read_xattrs(root).items():
        if rel not in tree:
            continue
        plain = {k: v for k, v in attrs.items() if not k.startswith("system.posix_acl_")}
        if plain:
            tree[rel]["xattrs"] = plain
        if acls is None and len(plain) != len(attrs):  # no getfacl: keep the raw ACL xattrs
            tree[rel]["acl"] = {k: v for k, v in attrs.items() if k not in plain}
    for rel, entries in (acls or {}).items():
        if rel in tree and entries:
            tree[rel]["acl"] = entries
    return tree


# --- judging ------------------------------------------------------------------------

def dimension_applies(dim, a, b):
    if dim == "mode":
        return a in APPLIES_MODES and b in APPLIES_MODES
    if dim in ("xattrs", "acl"):
        return a in APPLIES_XATTRS and b in APPLIES_XATTRS
    return True


def compare_trees(a, ta, b, tb, labels=None):
    """Human-readable differences between extractor a's tree ta and b's tree tb.  labels,
    given when one extractor's two trees are compared, name the sides; a mode that
    follows the umask then counts too (it is the same extractor's default both times)."""
    la, lb = labels or (a, b)
    out = []
    for only, x, y in ((sorted(set(ta) - set(tb)), la, lb), (sorted(set(tb) - set(ta)), lb, la)):
        if only:
            out.append(f"{x} vs {y}: only {x} wrote {', '.join(only[:4])}{' ...' if len(only) > 4 else ''}")
    for path in sorted(set(ta) & set(tb)):
        for dim in ("type", "sha256", "target", "links", "mode", "xattrs", "acl", "rdev"):
            va, vb = ta[path].get(dim), tb[path].get(dim)
            if dim == "mode" and not labels and (ta[path].get("mode_follows_umask")
                                                 or tb[path].get("mode_follows_umask")):
                continue  # the archive did not set it: an extractor default, not an ambiguity
            if va != vb and dimension_applies(dim, a, b):
                out.append(f"{la} vs {lb}: {dim} of {path}: {va!r} vs {vb!r}")
    return out


def judge(results):
    """results[side][extractor] -> verdict dict for one case."""
    extractors = list(results["published"])
    equal = {x: results["published"][x]["tree"] == results["rebuilt"][x]["tree"] for x in extractors}
    problems, failures, notes = [], [], []
    for side in ("published", "rebuilt"):
        side_results = results[side]
        for a, b in itertools.combinations(extractors, 2):
            problems += [f"{side}: {d}" for d in compare_trees(a, side_results[a]["tree"], b, side_results[b]["tree"])]
        for x in extractors:
            if side_results[x]["status"] != 0:
                first = (side_results[x]["stderr"].strip().splitlines() or [""])[0]
                failures.append(f"{side}: {x} exited {side_results[x]['status']}: {first}")
    problems = problems[:MAX_DIFFS] + failures  # tree differences first: they say more
    for x in extractors:  # warnings that only one side triggers: not a verdict, but worth reading
        errs = {s: results[s][x]["stderr"].strip() for s in ("published", "rebuilt")}
        if errs["published"] != errs["rebuilt"]:
            side = "published" if errs["published"] else "rebuilt"
            notes.append(f"{x} stderr differs ({side}): {errs[side].splitlines()[0][:150] if errs[side] else ''}")
    unequal = [(compare_trees(x, results["published"][x]["tree"], x, results["rebuilt"][x]["tree"],
                              (f"{x}@published", f"{x}@rebuilt")) + [f"{x}: trees differ"])[0]
               for x in extractors if not equal[x]]
    return {"safe": all(equal.values()) and not problems, "per_extractor_equal": equal,
            "disagreements": problems, "unequal": unequal, "notes": notes}


# --- driver ------------------------------------------------------------------------------

def versions():
    def first_line(argv):
        p = subprocess.run(argv, capture_output=True, text=True)
        return ((p.stdout or p.stderr).strip().splitlines() or ["?"])[0]
    return {"gnutar": first_line(["tar", "--version"]), "bsdtar": first_line(["bsdtar", "--version"]),
            "unzip": first_line(["unzip", "-v"]), "pytar": "tarfile, Python " + sys.version.split()[0],
            "pyzip": "zipfile, Python " + sys.version.split()[0], "getfattr": first_line(["getfattr", "--version"]),
            "getfacl": first_line(["getfacl", "--version"]) if shutil.which("getfacl") else "missing"}


def check_binaries():
    missing = [f"{b} (Debian package {pkg})" for b, pkg in BINARIES.items() if not shutil.which(b)]
    if not missing and "GNU tar" not in subprocess.run(["tar", "--version"], capture_output=True, text=True).stdout:
        missing.append("GNU tar as `tar` (Debian package tar)")
    if missing:
        print("missing extractor: " + "; ".join(missing) + "  -> apt-get install -y " +
              " ".join(sorted({m.split("package ")[1].rstrip(")") for m in missing})), file=sys.stderr)
        sys.exit(2)
    probe = subprocess.run(["tar", "--acls", "-cf", "/dev/null", "-T", "/dev/null"], capture_output=True)
    return probe.returncode == 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] in ("--pytar", "--pyzip"):
        try:
            sys.exit((pytar if sys.argv[1] == "--pytar" else pyzip)(sys.argv[2], sys.argv[3]))
        except Exception as e:  # one line, like the other extractors' messages
            sys.exit(f"{type(e).__name__}: {e}")
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    acls = check_binaries()
    with open(os.path.join(outdir, "cases.json")) as f:
        cases = json.load(f)
    report = {"cases": {}, "extractors": versions()}
    work = tempfile.mkdtemp(prefix="oracle-")
    try:
        for i, c in enumerate(cases):
            zipped = c["file"].endswith((".zip", ".whl"))
            results = {side: {x: run_extractor(x, os.path.abspath(os.path.join(outdir, side, c["file"])),
                                               os.path.join(work, str(i), side, x), acls)
                              for x in (ZIP_EXTRACTORS if zipped else TAR_EXTRACTORS)}
                       for side in ("published", "rebuilt")}
            verdict = judge(results)
            verdict["trees"] = {s: {x: r["tree"] for x, r in results[s].items()} for s in results}
            verdict["runs"] = {s: {x: {"status": r["status"], "stderr": r["stderr"]} for x, r in results[s].items()}
                               for s in results}
            report["cases"][c["file"]] = {"kind": c["kind"], "construct": c["construct"], **verdict}
            shutil.rmtree(os.path.join(work, str(i)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(outdir, "oracle.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    print_table(report)


def print_table(report):
    print(f"{'file':40} {'kind':8} {'safe':5} first disagreement / unequal extractor")
    for file, v in report["cases"].items():
        empty = [x for x in ("gnutar", "unzip") if x in v["trees"]["published"] and not v["trees"]["published"][x]]
        why = (v["disagreements"] + v["unequal"] + [""])[0]
        if empty:
            why = f"NOTHING EXTRACTED by {'/'.join(empty)}; " + why
        print(f"{file:40} {v['kind']:8} {str(v['safe']).lower():5} {why[:150]}")
    for kind in ("honest", "crafted"):
        cases = [f for f, v in report["cases"].items() if v["kind"] == kind]
        safe = [f for f in cases if report["cases"][f]["safe"]]
        print(f"{kind}: {len(safe)}/{len(cases)} safe" + (f" ({', '.join(safe)})" if kind == "crafted" and safe else ""))


if __name__ == "__main__":
    main()
