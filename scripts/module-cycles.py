#!/usr/bin/env python3
"""Import cycles between modules at every level of src/: among the
top-level modules, and among the sibling submodules of each folder
(`src/diff/archive.rs` and `src/diff/streamed.rs` are siblings in
`src/diff/`; a module's own subfolder counts as part of it).

A module depends on a sibling when its code names it: `crate::diff::x`,
`super::x` (or `super::super::...`), `self::...`, and `use` groups such as
`use super::{x::A, y}`. Comments, string literals and test-only code
(`#[cfg(test)] mod NAME;` files and `#[cfg(test)] mod NAME { ... }` blocks)
are not read: they make no dependency of the build. A name re-exported by
the parent (`pub use x::f;`, used as `super::f`) is not followed.

Prints the strongly connected components with more than one member, per
level, and a line per level; exits 1 when there is any.

    scripts/module-cycles.py [SRC_DIR]
"""
import pathlib, re, sys

src = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "src"
ROOTS = ("lib", "main")  # crate roots: `crate::` is not relative to them


def code_only(text):
    """The text with comments removed and string and char literals emptied."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif (m := re.match(r'b?r(#*)"', text[i:i + 260])) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find('"' + m.group(1), i + m.end())
            out.append('""')
            i = n if end < 0 else end + 1 + len(m.group(1))
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            i = text.find('"', i) + 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1f}') or a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:i + 12])
            if m:
                out.append("' '")
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_test_blocks(code):
    """`code` without `#[cfg(test)] mod NAME { ... }` blocks."""
    while m := re.search(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", code):
        depth, i = 1, m.end()
        while i < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            i += 1
        code = code[:m.start()] + code[i:]
    return code


def test_children(code):
    """Submodules declared test-only: `#[cfg(test)] mod NAME;`."""
    return set(re.findall(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code))


def use_paths(tree):
    """The paths a `use` tree names: `super::{a::B, c as d}` -> super::a::B, super::c."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))
    paths = []

    def walk(prefix, s):
        brace = s.find("{")
        if brace < 0:
            paths.append(prefix + [p for p in s.split("::") if p and p not in ("*", "self")])
            return
        head = [p for p in s[:brace].split("::") if p]
        inner, depth, start = s[brace + 1:s.rfind("}")], 0, 0
        for j, ch in enumerate(inner + ","):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                if inner[start:j]:
                    walk(prefix + head, inner[start:j])
                start = j + 1

    walk([], tree)
    return paths


def references(code):
    """Every path that starts with crate, super or self (as segment lists)."""
    found = []
    for m in re.finditer(r"\buse\s+([^;]*);", code):
        found.extend(p for p in use_paths(m.group(1)) if p and p[0] in ("crate", "super", "self"))
    for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", code):
        found.append(m.group(1).split("::"))
    return found


def resolve(module, path):
    """`path` (from code in `module`) as an absolute module path."""
    out, rest = list(module), list(path)
    if rest[0] == "crate":
        out, rest = [], rest[1:]
    else:
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                out = out[:-1]
            rest = rest[1:]
    return out + rest


# Every module: its path, its files, and the module names in each folder.
files = {}  # module path (tuple) -> file
children = {}  # folder module path (tuple) -> set of child module names


def collect(folder, module):
    names = set()
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix == ".rs":
            if not module and p.stem in ROOTS:
                continue
            if p.stem == "mod":
                files[module] = p
                continue
            names.add(p.stem)
            files[module + (p.stem,)] = p
        elif p.is_dir() and any(p.rglob("*.rs")):
            names.add(p.name)
            collect(p, module + (p.name,))
    children[module] = names


collect(src, ())

# Test-only modules (and everything under them) are skipped.
test_only = set()
for module, f in files.items():
    for child in test_children(code_only(f.read_text())):
        test_only.add(module + (child,))
live = {m: f for m, f in files.items() if not any(m[:len(t)] == t for t in test_only)}
for folder in children:
    children[folder] = {c for c in children[folder] if folder + (c,) not in test_only}

# edges[folder][a] = {b, ...}: sibling a of `folder` names sibling b.
edges = {folder: {c: set() for c in names} for folder, names in children.items()}
for module, f in live.items():
    code = without_test_blocks(code_only(f.read_text()))
    for ref in references(code):
        target = resolve(module, ref)
        k = 0
        while k < min(len(module), len(target)) and module[k] == target[k]:
            k += 1
        folder = module[:k]
        if k < len(module) and k < len(target) and target[k] in children.get(folder, ()):
            edges[folder][module[k]].add(target[k])


def strongly_connected(graph):
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sccs


sys.setrecursionlimit(10000)
total = 0
for folder in sorted(edges):
    graph = edges[folder]
    if len(graph) < 2:
        continue
    where = "src/" + "".join(f"{part}/" for part in folder)
    sccs = strongly_connected(graph)
    total += len(sccs)
    for comp in sccs:
        inner = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp]
        print(f"{where}: cycle: {{{', '.join(comp)}}}: " + "; ".join(inner))
    level = "top-level modules" if not folder else "modules"
    print(f"{where}: {len(graph)} {level}, {sum(map(len, graph.values()))} dependencies, {len(sccs)} cycle(s)")
print(f"{total} cycle(s) in all")
sys.exit(1 if total else 0)
