#!/usr/bin/env python3
"""Note [One loop per instruction set] (parity/cpu/elementwise_isa.h): the
objects compiled for AVX2 or AVX-512 must define no weak symbol. A weak
(inline, template) definition there could be the copy the linker keeps for the
whole library, and the baseline code would then run AVX-512 instructions on a
CPU without them.

usage: check_isa_objects.py OBJECT...   (nm on the PATH; an argument may be a
                                         ;-separated list, as CMake passes one)
Exits 1 naming every weak symbol found, 0 when there is none.
"""
import subprocess
import sys


def weak_symbols(path):
    out = subprocess.run(["nm", "--defined-only", "-C", path], check=True, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3 and parts[1] in ("W", "V", "u"):
            found.append(parts[2])
    return found


def main(args):
    paths = [p for arg in args for p in arg.split(";") if p]
    if not paths:
        print("check_isa_objects.py: no object given", file=sys.stderr)
        return 2
    bad = 0
    for path in paths:
        weak = weak_symbols(path)
        for name in weak:
            print(f"{path}: weak symbol {name} (inline code compiled for a wider instruction set "
                  "that other objects may link to)")
        bad += len(weak)
        print(f"{path}: {len(weak)} weak symbols")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
