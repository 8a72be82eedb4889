#!/usr/bin/env python3
"""Checks that each layer of libparity links only downward.

Note [Layers enforced by the build] (cmake/ParityLayers.cmake): the include
roots stop an upward #include; this stops the rest, a symbol a layer's objects
need that only a layer above it defines (a function declared by hand, say).

Usage: check_layer_links.py LAYER=USES=OBJECTS ...
  LAYER    the layer's name (tensor, cpu, ...)
  USES     the layers it may use, comma-separated (empty for none)
  OBJECTS  its object files, separated by '|'

A symbol defined by no layer (the C++ library, OpenBLAS, CUDA) is not a layer's
business. The one designed upward call is listed in UPWARD_BY_DESIGN, with why.
Exits 1 naming every offending symbol, the layer that needs it, the object that
needs it and the layer that defines it.
"""

import subprocess
import sys

# The backend table (parity/tensor/backend.cpp) is the tensor layer's one way
# into the backends above it: every op dispatches through it.
UPWARD_BY_DESIGN = {
    ("tensor", "parity::cpu_backend()"),
    ("tensor", "parity::cuda_backend()"),
}


def symbols(objects, undefined):
    """{mangled name: first object} of the objects' defined (or undefined) symbols."""
    flag = "--undefined-only" if undefined else "--defined-only"
    found = {}
    for obj in objects:
        out = subprocess.run(["nm", "-P", flag, obj], check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, kind = line.split()[:2]  # "name type [value [size]]"
            # Undefined: strong references only (a weak one, 'w' or 'v', may stay
            # unresolved). Defined: global ones only (upper case, or 'u' unique).
            if (kind != "U") if undefined else not (kind.isupper() or kind == "u"):
                continue
            found.setdefault(name, obj)
    return found


def demangled(name):
    return subprocess.run(["c++filt", name], check=True, capture_output=True, text=True).stdout.strip()


def main(argv):
    layers = []
    for arg in argv:
        name, uses, objects = arg.split("=", 2)
        layers.append((name, set(filter(None, uses.split(","))), [o for o in objects.split("|") if o]))
    defined_by = {}
    for name, _, objects in layers:
        for symbol in symbols(objects, undefined=False):
            defined_by.setdefault(symbol, set()).add(name)
    problems = []
    for name, uses, objects in layers:
        for symbol, obj in sorted(symbols(objects, undefined=True).items()):
            owners = defined_by.get(symbol, set())
            if not owners or name in owners or owners & uses:
                continue
            readable = demangled(symbol)
            if (name, readable) in UPWARD_BY_DESIGN:
                continue
            problems.append(f"{obj}: the {name} layer needs {readable}, defined only above it "
                            f"(in {', '.join(sorted(owners))}); {name} may use: {', '.join(sorted(uses)) or 'nothing'}")
    for p in problems:
        print(p)
    checked = sum(len(o) for _, _, o in layers)
    if problems:
        print(f"{len(problems)} upward link(s) in {checked} objects of {len(layers)} layers")
        return 1
    print(f"every layer links only downward: {checked} objects of {len(layers)} layers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
