#!/usr/bin/env python3
"""Find, for every real trace, the NumPy float32 formula (reference sec. 12 knobs) that
reproduces it bit for bit at every recorded step.

    tools/golden/.venv/bin/python tools/golden/check_emulations.py \
        [--only PRESET,...] [--markdown tools/golden/emulation_results.md]

The search is staged, because the states are recorded:
  Adam:     m (depends only on the m knobs), v, then the parameter with the fitted m, v;
  Adadelta: E[g^2], then (delta, E[dx^2]), then the parameter;
  SGD:      the whole update at once.
A stage MATCHES when every element of every tensor at every checkpoint is bit-identical
(NaN == NaN, +0 != -0).  When no single formula matches every element, the stage is
tried as a SPLIT: one formula for the vector body of each tensor (the first
floor(n/w)*w elements, w = 8 or 16) and another for the scalar tail.  Where nothing
matches, the closest candidate is reported with its mismatch count, its largest ULP
distance and the mismatching elements (tensor[index]@first checkpoint).

Every listed knob value is a matching alternative on this data; 'a|b' means the data
cannot tell a from b (e.g. ftz=False|True where no subnormal reaches that operation).
Oracles (knobs sqrt=torch_mkl, rsqrt=eigen_avx*, pow=table) stand for a framework's
own non-correctly-rounded routine: see numerics.SQRT_MODES / RSQRT_MODES and the aux
file bias_pow.npy.  Also checked: the emulated traces against their knobs (self-check)
and which real traces are bit-identical to each other.
"""
import argparse
import itertools
import json
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import numerics as nx  # noqa: E402
from common import CHECKPOINTS, OUT, STEPS, TENSORS  # noqa: E402

warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

ROWS = [c - 1 for c in CHECKPOINTS]
OFFS = {}
_o = 0
for _n, _s in TENSORS:
    OFFS[_n] = (_o, _o + int(np.prod(_s)))
    _o += int(np.prod(_s))
NTOT = _o
WIDTHS = [8, 16]
BODY = {w: nx.body_mask(TENSORS, w) for w in WIDTHS}


def load_flat(entry, q):
    return np.concatenate([np.load(os.path.join(OUT, entry["files"][q][n])).reshape(len(CHECKPOINTS), -1)
                           for n, _ in TENSORS], axis=1)


def ordered(x):
    i = x.view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def compare(a, b):
    """(n mismatching values, max ulp, mask [cp, n]); NaN == NaN."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    na, nb = np.isnan(a), np.isnan(b)
    same = (a.view(np.uint32) == b.view(np.uint32)) | (na & nb)
    mism = ~same
    if not mism.any():
        return 0, 0, mism
    ulp = np.abs(ordered(np.nan_to_num(a, nan=0)) - ordered(np.nan_to_num(b, nan=0)))
    ulp = np.where(na ^ nb, np.iinfo(np.int64).max, ulp)
    ulp = np.where(same, 0, ulp)
    return int(mism.sum()), int(ulp.max()), mism


def where_str(mask, limit=10):
    out = []
    cols = np.nonzero(mask.any(axis=0))[0]
    for c in cols[:limit]:
        for n, (lo, hi) in OFFS.items():
            if lo <= c < hi:
                first = CHECKPOINTS[int(np.nonzero(mask[:, c])[0][0])]
                out.append("%s[%d]@%d" % (n, c - lo, first))
    if len(cols) > limit:
        out.append("... (%d elements)" % len(cols))
    return " ".join(out)


def public(k):
    return {a: b for a, b in k.items() if not a.startswith("_")}


def kstr(k):
    return ", ".join("%s=%s" % (a, b) for a, b in public(k).items())


def summarize(matches):
    """Knob -> 'v' or 'v1|v2' over all matching candidates."""
    keys = []
    for k in matches:
        for a in public(k):
            if a not in keys:
                keys.append(a)
    parts = []
    for a in keys:
        vals = []
        for k in matches:
            v = json.dumps(k.get(a), sort_keys=True) if isinstance(k.get(a), (dict, list)) else str(k.get(a))
            if v not in vals:
                vals.append(v)
        parts.append("%s=%s" % (a, "|".join(vals)))
    return ", ".join(parts)


class Stage:
    """Evaluates candidates; finds full matches, body/tail splits, or the closest."""

    def __init__(self, name, cands, run, targets):
        self.name = name
        self.evals = []
        for k in cands:
            try:
                tr = run(k)
            except (KeyError, TypeError):
                continue  # knob combination not applicable
            col = np.zeros(NTOT, bool)
            tot, mx, masks = 0, 0, {}
            for q, rec in targets.items():
                n, u, m = compare(tr[q][ROWS], rec)
                tot += n
                mx = max(mx, u)
                masks[q] = m
                col |= m.any(axis=0)
            self.evals.append((k, tot, mx, masks, col))
        self.full = [e[0] for e in self.evals if e[1] == 0]
        self.split = None
        if not self.full:
            for w in WIDTHS:
                body = [e[0] for e in self.evals if not e[4][BODY[w]].any()]
                tail = [e[0] for e in self.evals if not e[4][~BODY[w]].any()]
                if body and tail:
                    self.split = (w, body, tail)
                    break
        self.best = min(self.evals, key=lambda e: e[1])

    def fit(self):
        """A knob dict reproducing the stage (split -> body knobs + 'tail'), or the closest."""
        if self.full:
            return dict(self.full[0])
        if self.split:
            w, body, tail = self.split
            b, t = body[0], tail[0]
            diff = {a: v for a, v in t.items()
                    if not (b.get(a) is v or (not isinstance(v, np.ndarray) and b.get(a) == v))}
            return dict(b, tail=diff, vec_width=w)
        return dict(self.best[0])

    def ok(self):
        return bool(self.full or self.split)

    def report(self):
        if self.full:
            return "  %-11s MATCH (%d): %s" % (self.name, len(self.full), summarize(self.full))
        if self.split:
            w, body, tail = self.split
            return ("  %-11s SPLIT by position, vector width %d:\n"
                    "                body (%d): %s\n                tail (%d): %s"
                    % (self.name, w, len(body), summarize(body), len(tail), summarize(tail)))
        k, tot, mx, masks, _ = self.best
        w = "; ".join("%s: %s" % (q, where_str(m)) for q, m in masks.items() if m.any())
        return ("  %-11s NO MATCH. closest: %s -> %d values differ, max %d ulp; %s"
                % (self.name, kstr(k), tot, mx, w))


ORACLE_KNOBS = {("sqrt", "torch_mkl"), ("rsqrt", "eigen_avx"), ("rsqrt", "eigen_avx_fma"),
                ("pow", "table")}


def _flat_knobs(k):
    for a, v in public(k).items():
        if a == "tail" and isinstance(v, dict):
            yield from _flat_knobs(v)
        elif not isinstance(v, (dict, list)):
            yield a, v


def family(e):
    fw = e.get("framework", {})
    if fw.get("name") == "torch" or fw.get("backend") == "torch":
        return "torch"
    if fw.get("name") == "tensorflow-cpu" or fw.get("backend") == "tensorflow":
        return "tf"
    if fw.get("name") == "optax" or fw.get("backend") == "jax":
        return "xla"
    return "other"


def sqrt_modes(e):
    # torch.sqrt is MKL's only in the PyPI wheel (Debian's 1.13 build has no MKL)
    return ["cr", "torch_mkl"] if family(e) == "torch" else ["cr"]


def rsqrt_modes(e):
    return {"tf": ["cr", "1div", "eigen_avx"], "xla": ["cr", "1div", "eigen_avx_fma"]}.get(
        family(e), ["cr", "1div"])


# ------------------------------------------------------------------------------------
def check_adam(e, init, grads, hp):
    rec = {q: load_flat(e, q) for q in ("m", "v", "param")}
    base = dict(one_minus="dbl", m="ema", v="ema", form="paper", pow="dbl", t_offset=0)
    table = None
    if "bias_pow" in e.get("aux", {}):
        table = np.load(os.path.join(OUT, e["aux"]["bias_pow"]["file"]))

    def run_mv(k):
        return nx.run_split(nx.adam, init, grads, hp, dict(base, **k), TENSORS, want=("m", "v"))

    cm = [dict(ftz=f, one_minus=o, m=m) for o, m, f in itertools.product(
        ["dbl", "f32"], ["keras", "keras_fma", "ema", "fma_Cg", "fma_bm", "lerp"], [False, True])]
    cv = [dict(ftz=f, one_minus=o, v=v) for o, v, f in itertools.product(
        ["dbl", "f32"], ["keras", "keras_fma", "keras_fma2", "keras_fma3", "ema", "ema_Cg_g",
                         "fma_Cg_g", "fma_C_gg", "fma_bv", "fma_bv_Cg_g"], [False, True])]
    sm = Stage("m", cm, run_mv, {"m": rec["m"]})
    sv = Stage("v", cv, run_mv, {"v": rec["v"]})
    M = run_mv(sm.fit())["m"]
    V = run_mv(sv.fit())["v"]

    pows = ["powf", "running", "dbl_of_f32"] + (["table"] if table is not None else [])
    cp = []
    for pw, al, pk, to in itertools.product(pows, ["lr_sqrt_div", "lr_mul_ratio", "host_dbl_bc"],
                                            ["sub", "fma_neg"], [0, 1]):
        if (al == "host_dbl_bc") != (pw == "dbl_of_f32"):
            continue
        if pw in ("table", "running") and to:
            continue  # t is not used by these
        cp.append(dict(form="hat", pow=pw, alpha=al, p=pk, t_offset=to))
    for den, pk in itertools.product(["div", "recip"], ["addcdiv", "fma_div", "mul_div"]):
        cp.append(dict(form="torch", pow="dbl", denom=den, p=pk))
    for pw, pk, bd in itertools.product(pows, ["add", "fma"], ["div", "recip", "fold"]):
        cp.append(dict(form="optax", pow=pw, p=pk, bias_div=bd))
    cp.append(dict(form="paper", pow="dbl"))
    cands = []
    for k in cp:
        for sq in sqrt_modes(e):
            for f in (False, True):
                cands.append(dict(k, sqrt=sq, ftz=f, _bias_pow=table))

    def run_p(k):
        return nx.adam(init, grads, hp, k, want=("p",), mv=(M, V))

    sp = Stage("param", cands, run_p, {"p": rec["param"]})

    def portable():
        k = dict(sp.fit())
        k.pop("tail", None)
        k.pop("vec_width", None)
        k.update(sqrt="cr", pow="powf" if k.get("pow") == "table" else k.get("pow"))
        P = nx.adam(init, grads, hp, k, want=("p",), mv=(M, V))["p"]
        return {"param": compare(P[ROWS], rec["param"])[1]}
    return [sm, sv, sp], portable


ACC = ["ema", "tf", "ema_Cx_x", "fma_Cx_x", "fma_C_xx", "fma_ra"]


def check_adadelta(e, init, grads, hp):
    rec = {q: load_flat(e, q) for q in ("accum_grad", "accum_update", "param")}
    pdef = "sub" if hp["lr"] is not None else "none"

    def run(k):
        return nx.run_split(nx.adadelta, init, grads, hp, k, TENSORS)

    ca = [dict(ftz=f, one_minus=o, acc=a, delta="torch", p=pdef) for o, a, f in
          itertools.product(["dbl", "f32"], ACC, [False, True])]
    sa = Stage("E[g^2]", ca, run, {"a": rec["accum_grad"]})
    ka = sa.fit()
    cd = []
    for dk, au, sq, rs in itertools.product(["keras2", "torch", "tf", "keras_rsqrt"], ACC,
                                            sqrt_modes(e), rsqrt_modes(e)):
        if dk in ("keras2", "torch") and rs != "cr":
            continue  # no rsqrt in these forms
        cd.append(dict(ka, delta=dk, acc_u=au, sqrt=sq, rsqrt=rs))
    sd = Stage("delta,E[dx2]", cd, run, {"d": rec["accum_update"]})
    kd = sd.fit()
    pks = ["none", "none_fma"] if hp["lr"] is None else ["sub", "fma", "add_neg"]
    cpp = []
    for pk in pks:
        k = dict(kd, p=pk)
        if "tail" in k:
            k["tail"] = dict(k["tail"])
        cpp.append(k)
    spar = Stage("param", cpp, run, {"p": rec["param"]})

    def portable():
        k = dict(spar.fit())
        k.pop("tail", None)
        k.pop("vec_width", None)
        k.update(sqrt="cr", rsqrt="cr")
        tr = nx.adadelta(init, grads, hp, k)
        return {q: compare(tr[a][ROWS], rec[q])[1]
                for a, q in (("a", "accum_grad"), ("d", "accum_update"), ("p", "param"))}
    return [sa, sd, spar], portable


def check_sgd(e, init, grads, hp):
    rec = {"p": load_flat(e, "param")}
    if hp["momentum"]:
        rec["m"] = load_flat(e, "momentum")
    cands = []
    for form in ["keras", "keras2", "torch", "optax", "keras_torch"]:
        for r in range(0, 4):
            for fm in itertools.combinations(["buf", "nest", "p"], r):
                for ftz in (False, True):
                    cands.append(dict(form=form, fma=list(fm), ftz=ftz))
    return [Stage("update", cands,
                  lambda k: nx.run_split(nx.sgd, init, grads, hp, k, TENSORS), rec)], None


# ------------------------------------------------------------------------------------
def identical_groups(traces):
    groups = {}
    for e in traces:
        hpkey = json.dumps({k: v.get("as_passed") for k, v in e["hparams"].items()},
                           sort_keys=True)
        groups.setdefault((e["optimizer"], e["hpset"], hpkey), []).append(e)
    lines = []
    for (opt, hps, hpkey), es in sorted(groups.items()):
        cls = []
        for e in es:
            data = {q: load_flat(e, q) for q in e["files"]}
            for c in cls:
                ref = c[0][1]
                if set(ref) == set(data) and all(compare(ref[q], data[q])[0] == 0 for q in data):
                    c.append((e["preset"], data))
                    break
            else:
                cls.append([(e["preset"], data)])
        hpd = {k: v for k, v in json.loads(hpkey).items() if v is not None}
        lines.append("%s/%s %s: %s" % (opt, hps, hpd, " | ".join(
            " = ".join(p for p, _ in c) for c in cls)))
    return lines


def pow_table_report(e):
    """How the framework's own pow values compare with correctly rounded powf."""
    if "bias_pow" not in e.get("aux", {}):
        return None
    tab = np.load(os.path.join(OUT, e["aux"]["bias_pow"]["file"]))
    hp = e["hparams"]
    out = []
    for j, b in enumerate(("beta1", "beta2")):
        beta = hp[b]["float64"]
        cr = np.array([nx.powf_cr(np.float32(beta), t) for t in range(1, STEPS + 1)], np.float32)
        n, u, m = compare(tab[:, j], cr)
        sub = m & (np.abs(cr) < nx.F32_TINY)
        flushed = int((sub & (tab[:, j] == 0)).sum())
        other = m & ~sub
        ou = compare(tab[other, j], cr[other])[1] if other.any() else 0
        first = (np.nonzero(other)[0][:6] + 1).tolist()
        out.append("%s^t: %d of %d differ from correctly rounded powf: %d flushed to 0 where "
                   "the exact value is subnormal, %d others (max %d ulp, t=%s)"
                   % (b, n, STEPS, flushed, int(other.sum()), ou, first))
    return "; ".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated presets")
    ap.add_argument("--markdown", default="")
    ap.add_argument("--json", default="", help="write the fitted knobs per trace here")
    args = ap.parse_args()
    with open(os.path.join(OUT, "manifest.json")) as f:
        man = json.load(f)
    inputs = common.load_inputs()
    init = np.concatenate([inputs[n][0].reshape(-1) for n, _ in TENSORS])
    grads = np.concatenate([inputs[n][1].reshape(STEPS, -1) for n, _ in TENSORS], axis=1)
    only = set(filter(None, args.only.split(",")))
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    traces = [t for t in man["traces"] if t["status"] == "ok" and (not only or t["preset"] in only)]
    say("## Self-check of the emulated traces")
    say()
    for e in traces:
        if e["kind"] != "emulated":
            continue
        hpv = {k: (v.get("float64") if "float64" in v else v["as_passed"]) for k, v in e["hparams"].items()}
        fn = {"adam": nx.adam, "adadelta": nx.adadelta}.get(e["optimizer"], nx.sgd)
        tr = nx.run_split(fn, init, grads, hpv, e["emulation_knobs"], TENSORS)
        n, _, _ = compare(tr["p"][ROWS], load_flat(e, "param"))
        say("- %s: %s" % (e["id"], "reproduced" if n == 0 else "MISMATCH %d" % n))

    say()
    say("## Real traces that are bit-identical to each other")
    say()
    for ln in identical_groups([t for t in traces if t["kind"] == "real"]):
        say("- " + ln)

    say()
    say("## Formula search per real trace")
    summary = []
    fits = {}
    for e in traces:
        if e["kind"] != "real":
            continue
        hp = {k: (v.get("float64") if "float64" in v else v["as_passed"])
              for k, v in e["hparams"].items()}
        say()
        say("### %s" % e["id"])
        say()
        say("```")
        if e["optimizer"] == "adam":
            stages, portable = check_adam(e, init, grads, hp)
        elif e["optimizer"] == "adadelta":
            stages, portable = check_adadelta(e, init, grads, hp)
        else:
            stages, portable = check_sgd(e, init, grads, hp)
        uses = sorted({"%s=%s" % (a, v) for st in stages for a, v in _flat_knobs(st.fit())
                       if (a, v) in ORACLE_KNOBS})
        split = any(st.split for st in stages)
        port = None
        if uses and portable is not None and all(st.ok() for st in stages):
            port = portable()
        for st in stages:
            say(st.report())
        fits[e["id"]] = {"bit_exact": all(st.ok() for st in stages), "stages": [
            {"stage": st.name,
             "status": "match" if st.full else "split" if st.split else "no match",
             "knobs": json.loads(json.dumps(public(st.fit()), default=str)),
             "alternatives": (summarize(st.full) if st.full else
                              None if not st.split else
                              {"body": summarize(st.split[1]), "tail": summarize(st.split[2])}),
             "closest_max_ulp": None if st.ok() else st.best[2]} for st in stages]}
        pr = pow_table_report(e)
        if pr:
            say("  pow table: " + pr)
        if port is not None:
            say("  portable (oracles -> correctly rounded, no position split): max ulp %s"
                % ", ".join("%s %d" % kv for kv in port.items()))
        say("```")
        worst = max(st.best[2] for st in stages if not st.ok()) if not all(s.ok() for s in stages) else 0
        summary.append((e["id"], all(st.ok() for st in stages), split, worst, uses, port))
        fits[e["id"]]["oracles"] = uses
        fits[e["id"]]["portable_max_ulp"] = port
    say()
    say("## Summary")
    say()
    say("| trace | bit-exact emulation | needs | position split | portable formula: max ulp |")
    say("|---|---|---|---|---|")
    for tid, ok, split, worst, uses, port in summary:
        say("| %s | %s | %s | %s | %s |" % (
            tid, "yes" if ok else "**no** (closest: %d ulp)" % worst, " ".join(uses),
            "yes" if split else "",
            "" if port is None else ", ".join("%s %d" % kv for kv in port.items())))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")
    if args.json:
        common.write_json(args.json, fits)


if __name__ == "__main__":
    main()
