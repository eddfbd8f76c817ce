#!/usr/bin/env python3
"""Import circles between the modules of a Rust crate, at every depth.

usage: module-cycles.py [--edges] SRC_DIR [SRC_DIR ...]

At every level of the module tree (the crate root's modules, then the submodules of each folder
module such as `sinks/`, and so on down), each child module (its own submodules included) is mapped
to the sibling modules it names, so `sinks/notify` → `sinks/servicenow` → `sinks/notify` is a
circle even though both are inside `sinks`. At the top level that means: `use crate::y::…`, `crate::y::…` in
code, `super::…` that climbs out of the module, and the crate root's re-exports (`crate::load_file`
counts as `load` when `lib.rs` says `pub use load::load_file`). Comments, doc links and string
literals do not count. A module and its own submodules are one node, so `super::` inside `model/`
is not an edge. Any circle between two or more top-level modules is printed with the file and
line of each reference, and the exit code is 1; 0 means none. Below the top level the same rules
hold with `super::` and `self::` resolved to absolute paths, and a folder module's re-exports
(`pub use child::Item` in its `mod.rs`) count as its child.

Each crate root (`lib.rs`, `main.rs`, `bin/*.rs`) is checked on its own: a binary names its
library by crate name, which cannot form a circle with it.

Python 3 standard library only.
"""

import pathlib
import re
import sys

ROOT_FILES = ("lib.rs", "main.rs")


def strip(text):
    """Text with comments, strings and char literals blanked out; newlines are kept for line
    numbers."""
    out = []
    i, n = 0, len(text)

    def blank(s):
        out.append(re.sub(r"[^\n]", " ", s))

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(text[i:j])
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(text[i:j])
            i = j
        elif (m := re.compile(r'b?r(#*)"').match(text, i)) and (i == 0 or not _ident(text[i - 1])):
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            j = n if j < 0 else j + len(end)
            blank(text[i:j])
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not _ident(text[i - 1]))):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(text[i : j + 1])
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}'), or else a lifetime / label ('a).
            m = re.compile(r"'(\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'])'").match(text, i)
            if m:
                blank(m.group(0))
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _ident(c):
    return c.isalnum() or c == "_"


TOKEN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*|::|[{};,]|\n|.", re.S)


def tokens(text):
    """(token, line) pairs; whitespace dropped."""
    line = 1
    for m in TOKEN.finditer(text):
        t = m.group(0)
        if t == "\n":
            line += 1
        elif not t.isspace():
            yield t, line


def references(text, path):
    """(absolute path as a list of names, line, shown text) of every `crate::`/`super::`/`self::`
    path in `text`, the code of the module at `path` (a list of names below the crate root)."""
    toks = list(tokens(strip(text)))
    refs = []
    depth = 0
    inline = []  # (module path, brace depth of its body)
    i = 0
    while i < len(toks):
        t, line = toks[i]
        here = inline[-1][0] if inline else path
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if inline and inline[-1][1] == depth + 1:
                inline.pop()
        elif t == "mod" and i + 2 < len(toks) and toks[i + 2][0] == "{" and _ident(toks[i + 1][0][0]):
            depth += 1
            inline.append((here + [toks[i + 1][0]], depth))
            i += 3
            continue
        elif t in ("crate", "super", "self") and i + 1 < len(toks) and toks[i + 1][0] == "::":
            if i > 0 and toks[i - 1][0] == "::":
                i += 1
                continue
            base = [] if t == "crate" else here[:-1] if t == "super" else list(here)
            j = i + 2
            while t == "super" and j + 1 < len(toks) and toks[j][0] == "super" and toks[j + 1][0] == "::":
                base = base[:-1]
                j += 2
            shown = "".join(x for x, _ in toks[i:j]) + (toks[j][0] if j < len(toks) else "")
            if j < len(toks) and toks[j][0] == "{":
                for first in group_heads(toks, j):
                    refs.append((base + [first], line, f"{shown}{first}…}}"))
            else:
                tail = []
                k = j
                while k < len(toks) and _ident(toks[k][0][0]):
                    tail.append(toks[k][0])
                    if k + 1 < len(toks) and toks[k + 1][0] == "::":
                        k += 2
                    else:
                        break
                if base or tail:
                    refs.append((base + tail, line, "::".join([t] + ["super"] * 0 + tail) if t == "crate" else shown))
            i = j
            continue
        i += 1
    return refs


def group_heads(toks, j):
    """First names of the items of the `{ … }` use group opening at token `j`."""
    heads, level, expect = [], 0, True
    for t, _ in toks[j:]:
        if t == "{":
            level += 1
            if level == 1:
                expect = True
                continue
        elif t == "}":
            level -= 1
            if level == 0:
                break
        elif t == "," and level == 1:
            expect = True
            continue
        if expect and level == 1 and _ident(t[0]) and t != "self":
            heads.append(t)
        expect = False
    return heads


MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)
REEXPORT = re.compile(r"^\s*pub(?:\([^)]*\))?\s+use\s+(?:crate::|self::)?([A-Za-z_][A-Za-z0-9_]*)::(.*?);", re.M | re.S)


def module_tree(src, root):
    """Every file module of the crate rooted at `root`: module path (tuple) → (file, child module
    names, re-exports name → child)."""
    tree = {}

    def walk(path, file, folder):
        code = strip(file.read_text(encoding="utf-8"))
        children = []
        for name in MOD_DECL.findall(code):
            for f, sub in ((folder / f"{name}.rs", folder / name), (folder / name / "mod.rs", folder / name)):
                if f.is_file():
                    children.append(name)
                    walk(path + (name,), f, sub)
                    break
        reexports = {}
        for module, rest in REEXPORT.findall(code):
            if module in children:
                for item in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rest):
                    if item not in ("self", "as"):
                        reexports.setdefault(item, module)
        tree[path] = (file, children, reexports)

    walk((), root, src)
    return tree


def graphs(src, root):
    """Per parent module: {child: {sibling it names: (file, line, shown)}}."""
    tree = module_tree(src, root)
    levels = {p: {c: {} for c in children} for p, (_, children, _) in tree.items() if children}
    for path, (file, _, _) in tree.items():
        for target, line, shown in references(file.read_text(encoding="utf-8"), list(path)):
            # The deepest level where the file and the target part ways.
            n = 0
            while n < len(path) and n < len(target) and path[n] == target[n]:
                n += 1
            parent = path[:n]
            if parent not in levels or n >= len(path) or n >= len(target):
                continue
            here, there = path[n], target[n]
            if there not in levels[parent]:
                there = tree[parent][2].get(there)
            if there and there != here and there not in levels[parent][here]:
                levels[parent][here][there] = (file, line, shown)
    return levels


def cycles(edges):
    """Strongly connected components of two or more modules (Tarjan), each as a shortest circle
    through its first module."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
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
                comps.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    circles = []
    for comp in comps:
        start, members = comp[0], set(comp)
        prev, queue = {start: None}, [start]
        found = None
        while queue and not found:
            v = queue.pop(0)
            for w in sorted(edges[v]):
                if w == start:
                    found = v
                    break
                if w in members and w not in prev:
                    prev[w] = v
                    queue.append(w)
        path = [start]
        v = found
        while v != start:
            path.insert(1, v)
            v = prev[v]
        circles.append((comp, path + [start]))
    return circles


def main(argv):
    show_edges = "--edges" in argv
    dirs = [a for a in argv if a != "--edges"]
    if not dirs:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    bad = False
    for d in dirs:
        src = pathlib.Path(d)
        roots = [src / r for r in ROOT_FILES if (src / r).is_file()]
        roots += sorted((src / "bin").glob("*.rs")) if (src / "bin").is_dir() else []
        if not roots:
            print(f"{d}: no lib.rs, main.rs or bin/*.rs here", file=sys.stderr)
            return 2
        for root in roots:
            for parent, edges in sorted(graphs(src, root).items()):
                where = "::".join(parent) or "crate root"
                label = f"{d} ({root.name}, {where})"
                if show_edges:
                    for m in sorted(edges):
                        print(f"{label}: {m} → {', '.join(sorted(edges[m])) or '-'}")
                found = cycles(edges)
                if not found:
                    if not parent:
                        print(f"{label}: no import circle between its {len(edges)} modules")
                    continue
                bad = True
                for comp, circle in found:
                    print(f"{label}: import circle {' → '.join(circle)}  (modules involved: {', '.join(comp)})")
                    for a, b in zip(circle, circle[1:]):
                        f, line, shown = edges[a][b]
                        print(f"  {a} → {b}: {f}:{line}: {shown}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
