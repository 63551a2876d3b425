#!/usr/bin/env python3
"""Runs a command and reports its wall time and the peak RSS of its own processes.

    scripts/peak-rss.py OUT.json NAME[,NAME...] -- COMMAND [ARGS...]

NAMEs are the tool's own programs (as /proc/PID/status names them, 15
characters at most; a prefix matches); the rest of the tree (the builds'
compilers and shells) is not the tool's. Every 50 ms the command's process
tree is read from /proc. OUT.json gets the wall time, the exit code,
`tool_kib` (the largest sum, over the samples, of the VmRSS of the tool's
processes alive at that moment: what the tool holds at once), `main_kib`
(the command's own first process's VmHWM) and `by_name_kib` (each program's
largest VmHWM). A process that lives less than 50 ms may be missed; rusage
cannot be used instead, since a child's ru_maxrss includes the build
processes it waited for.
"""
import json
import os
import subprocess
import sys
import time


def children_map():
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The name is in parentheses and may hold spaces; ppid follows the state.
        fields = stat[stat.rfind(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
    children = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    return children


def tree(root, children):
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo.extend(children.get(pid, []))
    return seen


def memory(pid):
    """(name, VmHWM, VmRSS) in KiB, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        kib = lambda key: int(status.get(key, "0 kB").split()[0])
        return status["Name"].strip(), kib("VmHWM"), kib("VmRSS")
    except (OSError, KeyError, ValueError):
        return None


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    out, tool, command = sys.argv[1], tuple(sys.argv[2].split(",")), sys.argv[4:]
    started = time.monotonic()
    child = subprocess.Popen(command)
    peaks = {}  # pid -> (name, VmHWM)
    tool_kib = 0
    while child.poll() is None:
        held = 0
        for pid in tree(child.pid, children_map()):
            seen = memory(pid)
            if not seen:
                continue
            name, high, now = seen
            if high >= peaks.get(pid, ("", -1))[1]:
                peaks[pid] = (name, high)
            if name.startswith(tool):
                held += now
        tool_kib = max(tool_kib, held)
        time.sleep(0.05)
    wall = time.monotonic() - started
    by_name = {}
    for name, kib in peaks.values():
        by_name[name] = max(kib, by_name.get(name, 0))
    report = {
        "wall_s": round(wall, 3),
        "exit": child.returncode,
        "main_kib": peaks.get(child.pid, ("", 0))[1],
        "tool_kib": tool_kib,
        "by_name_kib": by_name,
    }
    with open(out, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    sys.exit(child.returncode)


main()
