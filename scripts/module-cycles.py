#!/usr/bin/env python3
"""Import cycles between the top-level modules of src/: which module names
which (any `crate::NAME` or `super::NAME` reaching another top-level
module), and the strongly connected components with more than one member.
Prints the cycles; exits 1 when there is any.

    scripts/module-cycles.py
"""
import pathlib, re, sys

src = pathlib.Path(__file__).resolve().parent.parent / "src"
modules = sorted({p.stem if p.is_file() else p.name for p in src.iterdir()
                  if (p.suffix == ".rs" and p.stem not in ("lib", "main")) or p.is_dir()})
edges = {m: set() for m in modules}
for m in modules:
    files = [src / f"{m}.rs"] if (src / f"{m}.rs").exists() else list((src / m).rglob("*.rs"))
    for f in files:
        text = re.sub(r"//.*", "", f.read_text())
        # Test-only code does not make a dependency of the build.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        for used in re.findall(r"crate::(\w+)", text):
            if used in edges and used != m:
                edges[m].add(used)
        # `use crate::{a, b::c}` groups
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            for used in re.findall(r"(?:^|,)\s*(\w+)", group):
                if used in edges and used != m:
                    edges[m].add(used)

index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in modules:
    if v not in index:
        visit(v)
for comp in sccs:
    inner = [f"{a} -> {b}" for a in comp for b in sorted(edges[a]) if b in comp]
    print(f"cycle: {{{', '.join(comp)}}}: " + "; ".join(inner))
print(f"{len(modules)} top-level modules, {sum(map(len, edges.values()))} dependencies, {len(sccs)} cycle(s)")
sys.exit(1 if sccs else 0)
