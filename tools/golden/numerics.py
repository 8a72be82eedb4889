"""float32 arithmetic with every rounding explicit, and parametrised emulations of the
Adam / Adadelta / SGD updates of the frameworks in shared/reference/optim-numerics.md.

Each elementary operation rounds once to float32 (NumPy float32 ufuncs are IEEE
correctly rounded).  fma(a, b, c) rounds once (computed exactly via round-to-odd in
float64).  With ftz=True every operation treats subnormal inputs as zero (DAZ) and
flushes subnormal results to zero (FTZ), like x86 MXCSR.FTZ|DAZ or CUDA ftz=true.

An emulation is described by a dict of knobs (see ADAM_KNOBS, ADADELTA_KNOBS,
SGD_KNOBS below); the presets are named knob dicts (PRESETS).  The functions run all
STEPS steps on the flattened parameters and return full trajectories.
"""
import math
from fractions import Fraction

import numpy as np

F32 = np.float32
F32_TINY = np.float32(np.finfo(np.float32).tiny)  # smallest normal


def f32(x):
    return np.asarray(x, dtype=np.float32)


def flush(x):
    x = f32(x)
    return np.where(np.abs(x) < F32_TINY, np.copysign(F32(0), x), x).astype(np.float32)


def fma_exact(a, b, c):
    """float32 fma(a, b, c) = a*b + c rounded once (round-to-odd in float64)."""
    a = f32(a).astype(np.float64)
    b = f32(b).astype(np.float64)
    c = f32(c).astype(np.float64)
    p = a * b  # exact: 24+24 bits < 53
    s = p + c
    bb = s - p
    e = (p - (s - bb)) + (c - bb)  # TwoSum: p + c == s + e exactly
    with np.errstate(invalid="ignore"):
        bits = s.view(np.int64) if s.ndim else np.array(s).view(np.int64)
        need = (e != 0) & ((bits & 1) == 0) & np.isfinite(s)
        towards = np.where(e > 0, np.inf, -np.inf)
        s = np.where(need, np.nextafter(s, towards), s)
    return s.astype(np.float32)


class Arith:
    """float32 arithmetic, optionally with FTZ/DAZ."""

    def __init__(self, ftz=False, sqrt=None, rsqrt=None):
        self.ftz = ftz
        self.sqrt_impl = sqrt    # None: correctly rounded; else a float32 array -> array oracle
        self.rsqrt_impl = rsqrt  # None: correctly rounded 1/sqrt; else oracle

    def _i(self, x):
        return flush(x) if self.ftz else f32(x)

    def _o(self, x):
        return flush(x) if self.ftz else f32(x)

    def add(self, a, b):
        return self._o(self._i(a) + self._i(b))

    def sub(self, a, b):
        return self._o(self._i(a) - self._i(b))

    def mul(self, a, b):
        return self._o(self._i(a) * self._i(b))

    def div(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._o(self._i(a) / self._i(b))

    def sqrt(self, a):
        if self.sqrt_impl is not None:
            return self._o(self.sqrt_impl(np.atleast_1d(self._i(a))).reshape(np.shape(a)))
        with np.errstate(invalid="ignore"):
            return self._o(np.sqrt(self._i(a)))

    def rsqrt(self, a):
        """1/sqrt(a) correctly rounded (one rounding), unless an oracle is given."""
        if self.rsqrt_impl is not None:
            return self._o(self.rsqrt_impl(np.atleast_1d(self._i(a))).reshape(np.shape(a)))
        x = self._i(a).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = 1.0 / np.sqrt(x)  # double: error << float32 half-ulp (ties impossible)
        return self._o(r.astype(np.float32))

    def neg(self, a):
        return -self._i(a)

    def fma(self, a, b, c):
        return self._o(fma_exact(self._i(a), self._i(b), self._i(c)))


SQRT_MODES = {
    "cr": "correctly rounded float32 sqrt (sqrtps / std::sqrt)",
    "torch_mkl": "torch.sqrt on CPU float32 as shipped in the PyPI wheel (MKL VML vsSqrt, "
                 "HA mode: <= 1 ulp, not correctly rounded); oracle: calls torch",
}
RSQRT_MODES = {
    "cr": "correctly rounded 1/sqrt(x) (one rounding)",
    "1div": "1.0f / sqrtf(x) (two roundings; Eigen scalar path)",
    "eigen_avx": "Eigen AVX prsqrt: rsqrtps + one Newton step with mul+add (TF pip wheel, "
                 "packets of 8); hardware rsqrtps, computed on this CPU",
    "eigen_avx_fma": "same Newton step with two fmas (XLA:CPU rsqrt); hardware rsqrtps",
}


def _torch_sqrt(x):
    import torch
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).sqrt().numpy()


def _oracles(k):
    """Map the 'sqrt' / 'rsqrt' knobs to implementations (None = correctly rounded)."""
    sq = k.get("sqrt", "cr")
    rs = k.get("rsqrt", "cr")
    sqrt = {"cr": None, "torch_mkl": _torch_sqrt}[sq]
    if rs == "cr":
        rsqrt = None
    elif rs == "1div":
        def rsqrt(x):
            with np.errstate(divide="ignore", invalid="ignore"):
                return (np.float32(1) / np.sqrt(x)).astype(np.float32)
    elif rs == "eigen_avx":
        def rsqrt(x):
            return eigen_rsqrt(x, with_fma=False)
    elif rs == "eigen_avx_fma":
        def rsqrt(x):
            return eigen_rsqrt(x, with_fma=True)
    else:
        raise KeyError(rs)
    return {"sqrt": sqrt, "rsqrt": rsqrt}


# ------------------------------------------------------------------------------------
# scalar helpers
# ------------------------------------------------------------------------------------
def c_dbl(beta):
    """fl(1 - beta) with the subtraction in double (Python float)."""
    return F32(1.0 - beta)


def c_f32(beta):
    """1.0f - fl(beta) in float32 (exact by Sterbenz for beta in [0.5, 1])."""
    return F32(F32(1.0) - F32(beta))


_POW_CACHE = {}


def powf_cr(base32, t):
    """Correctly rounded float32 pow(fl(base), t) for integer t >= 0 (exact rational)."""
    key = (float(base32), int(t))
    if key not in _POW_CACHE:
        exact = Fraction(float(F32(base32))) ** int(t)
        _POW_CACHE[key] = _round_fraction_to_f32(exact)
    return _POW_CACHE[key]


def _round_fraction_to_f32(q):
    """Round a positive Fraction to the nearest float32 (ties to even)."""
    if q == 0:
        return F32(0)
    # exponent estimate
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    while Fraction(2) ** (e + 1) <= q:
        e += 1
    # 2^e <= q < 2^(e+1); float32 quantum
    qexp = max(e, -126) - 23
    scaled = q / (Fraction(2) ** qexp)
    n = scaled.numerator // scaled.denominator
    rem = scaled - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2 == 1):
        n += 1
    return F32(math.ldexp(float(n), qexp))


def pow_dbl(beta, t):
    """beta ** t in double, beta the Python float as given (PyTorch)."""
    return float(beta) ** float(t)


def pow_dbl_of_f32(beta, t):
    """std::pow((double) fl(beta), t) in double (Flashlight), not yet rounded."""
    return float(F32(beta)) ** int(t)


# ------------------------------------------------------------------------------------
# Adam
# ------------------------------------------------------------------------------------
ADAM_KNOBS = {
    "ftz": "bool: DAZ/FTZ on every float32 op",
    "one_minus": "'dbl' C=fl(1-beta) | 'f32' C=1.0f-fl(beta)",
    "pow": "'powf' correctly rounded float32 pow(fl(beta), t) | 'running' float32 running "
           "product p_t = p_{t-1}*fl(beta) (p_1 = fl(beta)) | 'dbl' double beta**t "
           "(PyTorch) | 'dbl_of_f32' double pow((double)fl(beta), t) (Flashlight) | 'table' the "
           "framework's own float32 pow values (aux bias_pow.npy, given as _bias_pow)",
    "sqrt": "see SQRT_MODES", "rsqrt": "see RSQRT_MODES",
    "t_offset": "0: t = step number; 1: t = step number + 1 (Keras 2 TF race, 'new+1')",
    "m": "'keras' m+((g-m)*C) | 'keras_fma' fma(g-m, C, m) | 'ema' (b*m)+(C*g) | "
         "'fma_Cg' fma(C, g, b*m) | 'fma_bm' fma(b, m, C*g) | 'lerp' PyTorch lerp "
         "(w<0.5: fma(w, g-m, m) else fma(w-1, g-m, g))",
    "v": "'keras' v+((g*g-v)*C) | 'keras_fma' fma(g*g-v, C, v) | 'keras_fma2' "
         "fma(fma(g, g, -v), C, v) | 'keras_fma3' v+(fma(g, g, -v)*C) | 'ema' (b*v)+(C*(g*g)) | "
         "'ema_Cg_g' (b*v)+((C*g)*g) | 'fma_Cg_g' fma(C*g, g, v*b) | 'fma_C_gg' fma(C, g*g, v*b) "
         "| 'fma_bv' fma(b, v, C*(g*g)) | 'fma_bv_Cg_g' fma(b, v, (C*g)*g)",
    "form": "'hat' eps-hat form with alpha folded into lr | 'torch' | 'optax' | 'paper'",
    "alpha": "(form hat) 'lr_sqrt_div' (lr*sqrt(1-p2))/(1-p1) in float32 | 'lr_mul_ratio' "
             "lr*(sqrt(1-p2)/(1-p1)) in float32 | 'host_dbl_bc' (lr*sqrtf(bc2))/bc1 with "
             "bc=fl(1-pow) from double (Flashlight)",
    "p": "hat: 'sub' p-((m*a)/(sqrt(v)+eps)) | 'sub_fma_den' denominator eps added by fma? no | "
         "torch: 'addcdiv' p+((fl(-ss)*m)/d) | 'fma_div' fma(fl(-ss), m/d, p) | 'mul_div' "
         "p+(fl(-ss)*(m/d)); optax: 'add' p+(fl(-lr)*u) | 'fma' fma(fl(-lr), u, p); paper: 'sub'",
    "denom": "torch: 'div' sqrt(v)/fl(bc2s) + eps | 'recip' sqrt(v)*fl(1/fl(bc2s)) + eps",
    "bias_div": "optax: 'div' u = (m/(1-p1)) / (sqrt(v/(1-p2)) + eps) | 'recip' m*fl(1/(1-p1)), "
                "v*fl(1/(1-p2)) (XLA: A / broadcast(s) -> A * broadcast(1/s)) | 'fold' "
                "u = m / ((1-p1) * (sqrt(v/(1-p2)) + eps)) (XLA: (A/B)/C -> A/(B*C))",
}


def _bias_pows(hp, k, t):
    """(p1, p2) as float32 for the float forms, or doubles for 'dbl'."""
    tt = t + k.get("t_offset", 0)
    mode = k["pow"]
    if mode == "powf":
        return powf_cr(hp["beta1"], tt), powf_cr(hp["beta2"], tt)
    if mode == "dbl":
        return pow_dbl(hp["beta1"], tt), pow_dbl(hp["beta2"], tt)
    if mode == "dbl_of_f32":
        return pow_dbl_of_f32(hp["beta1"], tt), pow_dbl_of_f32(hp["beta2"], tt)
    if mode == "table":
        tab = k["_bias_pow"]  # [STEPS, 2] float32 recorded from the framework
        return F32(tab[tt - 1, 0]), F32(tab[tt - 1, 1])
    raise KeyError(mode)


def adam(init, grads, hp, k, want=("m", "v", "p"), mv=None):
    """init [n] float32, grads [STEPS, n].  Returns dict q -> [STEPS, n] trajectories.
    mv: optional (M, V) trajectories to use instead of computing m and v."""
    A = Arith(k.get("ftz", False), **_oracles(k))
    n = init.size
    steps = grads.shape[0]
    b1, b2 = F32(hp["beta1"]), F32(hp["beta2"])
    if k.get("one_minus", "dbl") == "dbl":
        C1, C2 = c_dbl(hp["beta1"]), c_dbl(hp["beta2"])
    else:
        C1, C2 = c_f32(hp["beta1"]), c_f32(hp["beta2"])
    lr, eps = F32(hp["lr"]), F32(hp["eps"])
    m = np.zeros(n, np.float32)
    v = np.zeros(n, np.float32)
    p = f32(init).copy()
    out = {q: np.empty((steps, n), np.float32) for q in want}
    run1 = [F32(hp["beta1"]), F32(hp["beta2"])]  # running product state
    for t in range(1, steps + 1):
        g = A._i(grads[t - 1])
        # ---- m
        mk = k["m"] if mv is None else "given"
        if mk == "given":
            m, v = mv[0][t - 1], mv[1][t - 1]
        elif mk == "keras":
            m = A.add(m, A.mul(A.sub(g, m), C1))
        elif mk == "keras_fma":
            m = A.fma(A.sub(g, m), C1, m)
        elif mk == "ema":
            m = A.add(A.mul(b1, m), A.mul(C1, g))
        elif mk == "fma_Cg":
            m = A.fma(C1, g, A.mul(b1, m))
        elif mk == "fma_bm":
            m = A.fma(b1, m, A.mul(C1, g))
        elif mk == "lerp":
            w = C1
            if w < 0.5:
                m = A.fma(w, A.sub(g, m), m)
            else:
                m = A.fma(F32(w - F32(1)), A.sub(g, m), g)
        else:
            raise KeyError(mk)
        # ---- v
        vk = k["v"] if mv is None else "given"
        if vk == "given":
            pass
        elif vk == "keras":
            v = A.add(v, A.mul(A.sub(A.mul(g, g), v), C2))
        elif vk == "keras_fma":
            v = A.fma(A.sub(A.mul(g, g), v), C2, v)
        elif vk == "keras_fma2":
            v = A.fma(A.fma(g, g, A.neg(v)), C2, v)
        elif vk == "keras_fma3":
            v = A.add(v, A.mul(A.fma(g, g, A.neg(v)), C2))
        elif vk == "ema":
            v = A.add(A.mul(b2, v), A.mul(C2, A.mul(g, g)))
        elif vk == "ema_Cg_g":
            v = A.add(A.mul(b2, v), A.mul(A.mul(C2, g), g))
        elif vk == "fma_Cg_g":
            v = A.fma(A.mul(C2, g), g, A.mul(v, b2))
        elif vk == "fma_C_gg":
            v = A.fma(C2, A.mul(g, g), A.mul(v, b2))
        elif vk == "fma_bv":
            v = A.fma(b2, v, A.mul(C2, A.mul(g, g)))
        elif vk == "fma_bv_Cg_g":
            v = A.fma(b2, v, A.mul(A.mul(C2, g), g))
        else:
            raise KeyError(vk)
        # ---- p
        if "p" in want:
            form = k["form"]
            if k["pow"] == "running":
                p1, p2 = run1
            else:
                p1, p2 = _bias_pows(hp, k, t)
            if form == "hat":
                al = k["alpha"]
                if al == "lr_sqrt_div":
                    alpha = A.div(A.mul(lr, A.sqrt(A.sub(F32(1), F32(p2)))), A.sub(F32(1), F32(p1)))
                elif al == "lr_mul_ratio":
                    alpha = A.mul(lr, A.div(A.sqrt(A.sub(F32(1), F32(p2))), A.sub(F32(1), F32(p1))))
                elif al == "host_dbl_bc":
                    bc1, bc2 = F32(1.0 - p1), F32(1.0 - p2)
                    alpha = A.div(A.mul(lr, A.sqrt(bc2)), bc1)
                else:
                    raise KeyError(al)
                pk = k["p"]
                if pk == "sub":
                    p = A.sub(p, A.div(A.mul(m, alpha), A.add(A.sqrt(v), eps)))
                elif pk == "sub_am":
                    p = A.sub(p, A.div(A.mul(alpha, m), A.add(A.sqrt(v), eps)))
                elif pk == "fma_neg":
                    p = A.fma(A.neg(alpha), A.div(m, A.add(A.sqrt(v), eps)), p)
                else:
                    raise KeyError(pk)
            elif form == "torch":
                bc1 = 1.0 - p1
                bc2 = 1.0 - p2
                ss = hp["lr"] / bc1
                bc2s = math.sqrt(bc2) if k.get("bc2_sqrt", "sqrt") == "sqrt" else bc2 ** 0.5
                if k.get("denom", "div") == "div":
                    d = A.add(A.div(A.sqrt(v), F32(bc2s)), eps)
                else:
                    d = A.add(A.mul(A.sqrt(v), F32(1.0) / F32(bc2s)), eps)
                nss = F32(-ss)
                pk = k["p"]
                if pk == "addcdiv":
                    p = A.add(p, A.div(A.mul(nss, m), d))
                elif pk == "fma_div":
                    p = A.fma(nss, A.div(m, d), p)
                elif pk == "mul_div":
                    p = A.add(p, A.mul(nss, A.div(m, d)))
                else:
                    raise KeyError(pk)
            elif form == "optax":
                bc1, bc2 = A.sub(F32(1), F32(p1)), A.sub(F32(1), F32(p2))
                bd = k.get("bias_div", "div")
                if bd == "div":
                    u = A.div(A.div(m, bc1), A.add(A.sqrt(A.div(v, bc2)), eps))
                elif bd == "recip":  # XLA: A / broadcast(s) -> A * broadcast(1 / s)
                    u = A.div(A.mul(m, A.div(F32(1), bc1)),
                              A.add(A.sqrt(A.mul(v, A.div(F32(1), bc2))), eps))
                elif bd == "fold":  # XLA: (A / B) / C -> A / (B * C)
                    u = A.div(m, A.mul(bc1, A.add(A.sqrt(A.div(v, bc2)), eps)))
                else:
                    raise KeyError(bd)
                nlr = F32(-hp["lr"])
                pk = k["p"]
                if pk == "add":
                    p = A.add(p, A.mul(nlr, u))
                elif pk == "fma":
                    p = A.fma(nlr, u, p)
                else:
                    raise KeyError(pk)
            elif form == "paper":
                bc1 = F32(1.0 - pow_dbl(hp["beta1"], t))
                bc2 = F32(1.0 - pow_dbl(hp["beta2"], t))
                mh = A.div(m, bc1)
                vh = A.div(v, bc2)
                p = A.sub(p, A.div(A.mul(lr, mh), A.add(A.sqrt(vh), eps)))
            else:
                raise KeyError(form)
            if k["pow"] == "running":
                run1 = [A.mul(run1[0], b1), A.mul(run1[1], b2)]
        for q in want:
            out[q][t - 1] = {"m": m, "v": v, "p": p}[q]
    return out


# ------------------------------------------------------------------------------------
# Adadelta
# ------------------------------------------------------------------------------------
ADADELTA_KNOBS = {
    "ftz": "bool",
    "one_minus": "'dbl' | 'f32'",
    "acc": "accumulator update, same names for E[g^2] (x=g) and E[dx^2] (x=delta): "
           "'ema' (r*a)+(C*(x*x)) | 'ema_Cx_x' (r*a)+((C*x)*x) | 'fma_Cx_x' fma(C*x, x, a*r) "
           "| 'fma_C_xx' fma(C, x*x, a*r) | 'fma_ra' fma(r, a, C*(x*x)) | 'tf' (a*r)+((x*x)*C)",
    "acc_u": "same choices for the E[dx^2] update (defaults to 'acc')",
    "delta": "'keras2' (g*sqrt(d+e))/sqrt(a+e) | 'neg_keras3' -((sqrt(d+e)*g)/sqrt(a+e)) | "
             "'torch' (sqrt(d+e)/sqrt(a+e))*g | 'tf' (sqrt(d+e)*rsqrt(a+e))*g | 'keras_rsqrt' "
             "(sqrt(d+e)*g)*rsqrt(a+e) (x/sqrt(y) rewritten to x*rsqrt(y) by Grappler/XLA); "
             "rsqrt per the 'rsqrt' knob",
    "sqrt": "see SQRT_MODES", "rsqrt": "see RSQRT_MODES",
    "p": "'sub' p-(lr*D) | 'sub_Dlr' p-(D*lr) | 'fma' fma(fl(-lr), D, p) | 'add_neg' p+(fl(-lr)*D) "
         "| 'none' p+D (optax with learning_rate=None) | 'none_fma' fma(X, Y, p) where D = X*Y "
         "is the last multiplication of the delta (XLA contraction)",
}


def _acc(A, kind, a, x, r, C):
    if kind == "ema":
        return A.add(A.mul(r, a), A.mul(C, A.mul(x, x)))
    if kind == "tf":
        return A.add(A.mul(a, r), A.mul(A.mul(x, x), C))
    if kind == "ema_Cx_x":
        return A.add(A.mul(r, a), A.mul(A.mul(C, x), x))
    if kind == "fma_Cx_x":
        return A.fma(A.mul(C, x), x, A.mul(a, r))
    if kind == "fma_C_xx":
        return A.fma(C, A.mul(x, x), A.mul(a, r))
    if kind == "fma_ra":
        return A.fma(r, a, A.mul(C, A.mul(x, x)))
    raise KeyError(kind)


def adadelta(init, grads, hp, k, want=("a", "d", "p")):
    A = Arith(k.get("ftz", False), **_oracles(k))
    n = init.size
    steps = grads.shape[0]
    r = F32(hp["rho"])
    C = c_dbl(hp["rho"]) if k["one_minus"] == "dbl" else c_f32(hp["rho"])
    eps = F32(hp["eps"])
    lr = None if hp["lr"] is None else F32(hp["lr"])
    a = np.zeros(n, np.float32)
    d = np.zeros(n, np.float32)
    p = f32(init).copy()
    out = {q: np.empty((steps, n), np.float32) for q in want}
    for t in range(1, steps + 1):
        g = A._i(grads[t - 1])
        a = _acc(A, k["acc"], a, g, r, C)
        dk = k["delta"]
        sd = A.sqrt(A.add(d, eps))
        X = Y = None  # D = X*Y when the last operation is a multiplication
        if dk == "keras2":
            D = A.div(A.mul(g, sd), A.sqrt(A.add(a, eps)))
        elif dk == "neg_keras3":
            D = A.div(A.mul(sd, g), A.sqrt(A.add(a, eps)))  # sign handled below (exact)
        elif dk == "torch":
            X, Y = A.div(sd, A.sqrt(A.add(a, eps))), g
        elif dk == "tf":
            X, Y = A.mul(sd, A.rsqrt(A.add(a, eps))), g
        elif dk == "keras_rsqrt":
            X, Y = A.mul(sd, g), A.rsqrt(A.add(a, eps))
        else:
            raise KeyError(dk)
        if X is not None:
            D = A.mul(X, Y)
        d = _acc(A, k.get("acc_u", k["acc"]), d, D, r, C)
        pk = k["p"]
        if pk == "sub":
            p = A.sub(p, A.mul(lr, D))
        elif pk == "sub_Dlr":
            p = A.sub(p, A.mul(D, lr))
        elif pk == "add_neg":
            p = A.add(p, A.mul(-lr, D))
        elif pk == "fma":
            p = A.fma(-lr, D, p)
        elif pk == "none":
            p = A.add(p, D)
        elif pk == "none_fma":  # p + X*Y contracted (XLA), D = X*Y not rounded
            if X is None:
                raise KeyError("none_fma needs a delta form ending in a multiplication")
            p = A.fma(X, Y, p)
        else:
            raise KeyError(pk)
        for q in want:
            out[q][t - 1] = {"a": a, "d": d, "p": p}[q]
    return out


# ------------------------------------------------------------------------------------
# SGD
# ------------------------------------------------------------------------------------
SGD_KNOBS = {
    "ftz": "bool",
    "form": "'keras' (m = (m*mu) - (g*lr); p = p + m; nesterov p = p + ((m*mu) - (g*lr))) | "
            "'keras2' (v = (mu*m) - (lr*g); p = p + v; nesterov p = (p + mu*v) - lr*g) | "
            "'torch' (buf = g at step 1, then buf = buf*mu + g; nesterov g' = g + mu*buf; "
            "p = p - lr*g') | 'optax' (tr = g + mu*tr; nesterov u = g + mu*tr; p = p + (-lr)*u) "
            "| 'keras_torch' (buf = buf*mu + (-lr)*g; nesterov p = p + (-lr)*g, p = p + mu*buf)",
    "fma": "set of sites computed as one fma: 'buf' (momentum accumulate), 'nest' (nesterov "
           "combine), 'p' (parameter update)",
}


def sgd(init, grads, hp, k, want=("m", "p")):
    A = Arith(k.get("ftz", False), **_oracles(k))
    n = init.size
    steps = grads.shape[0]
    lr = F32(hp["lr"])
    nlr = F32(-hp["lr"])
    mu = F32(hp["momentum"])
    nest = bool(hp["nesterov"])
    use_m = bool(hp["momentum"])
    fm = set(k.get("fma", ()))
    form = k["form"]
    m = np.zeros(n, np.float32)
    p = f32(init).copy()
    out = {q: np.empty((steps, n), np.float32) for q in want}
    for t in range(1, steps + 1):
        g = A._i(grads[t - 1])
        if not use_m:
            if form in ("torch", "keras_torch"):
                p = A.fma(g, nlr, p) if "p" in fm else A.add(p, A.mul(nlr, g))
            elif form == "optax":
                p = A.fma(nlr, g, p) if "p" in fm else A.add(p, A.mul(nlr, g))
            else:  # keras, keras2, tf: p - g*lr
                p = A.sub(p, A.mul(g, lr))
        elif form in ("keras", "keras2"):
            gl = A.mul(g, lr)
            m = A.fma(m, mu, A.neg(gl)) if "buf" in fm else A.sub(A.mul(m, mu), gl)
            if nest:
                if form == "keras":
                    upd = A.fma(m, mu, A.neg(gl)) if "nest" in fm else A.sub(A.mul(m, mu), gl)
                    p = A.add(p, upd)
                else:
                    p = A.sub(A.add(p, A.mul(mu, m)), gl)
            else:
                p = A.add(p, m)
        elif form == "torch":
            if t == 1:
                m = g.copy()
            else:
                m = A.fma(m, mu, g) if "buf" in fm else A.add(A.mul(m, mu), g)
            gg = (A.fma(m, mu, g) if "nest" in fm else A.add(g, A.mul(mu, m))) if nest else m
            p = A.fma(gg, nlr, p) if "p" in fm else A.add(p, A.mul(nlr, gg))
        elif form == "optax":
            m = A.fma(mu, m, g) if "buf" in fm else A.add(g, A.mul(mu, m))
            u = (A.fma(mu, m, g) if "nest" in fm else A.add(g, A.mul(mu, m))) if nest else m
            p = A.fma(nlr, u, p) if "p" in fm else A.add(p, A.mul(nlr, u))
        elif form == "keras_torch":
            m = A.mul(m, mu)
            m = A.fma(g, nlr, m) if "buf" in fm else A.add(m, A.mul(nlr, g))
            if nest:
                p = A.fma(g, nlr, p) if "p" in fm else A.add(p, A.mul(nlr, g))
                p = A.fma(m, mu, p) if "nest" in fm else A.add(p, A.mul(mu, m))
            else:
                p = A.add(p, m)
        else:
            raise KeyError(form)
        for q in want:
            out[q][t - 1] = {"m": m, "p": p}[q]
    return out


# ------------------------------------------------------------------------------------
# The emulated presets (frameworks that cannot be installed here), straight from the
# reference doc.  Used by make_traces.py to write the "emulated" traces.
# ------------------------------------------------------------------------------------
EMULATED = {
    # Keras 2.0.4 on Theano and on TensorFlow: real traces now (run_keras2.py).
    # ... with the racy read of `iterations` resolved as 'new+1' (t one ahead).
    "keras2_tensorflow_t_ahead": {
        "adam": dict(ftz=True, one_minus="f32", pow="powf", t_offset=1, m="ema", v="ema",
                     form="hat", alpha="lr_mul_ratio", p="sub_am"),
        "ref": "sec. 3.1 (race on iterations: t = new iterations + 1)",
    },
    "lasagne": {
        "adam": dict(ftz=False, one_minus="f32", pow="powf", t_offset=0, m="ema", v="ema",
                     form="hat", alpha="lr_sqrt_div", p="sub_am"),
        "adadelta": dict(ftz=False, one_minus="f32", acc="ema", delta="keras2", p="sub"),
        "ref": "sec. 7 (Lasagne master; Theano, floatX=float32)",
    },
    "flashlight": {
        "adam": dict(ftz=False, one_minus="f32", pow="dbl_of_f32", t_offset=0, m="ema",
                     v="ema_Cg_g", form="hat", alpha="host_dbl_bc", p="sub_am"),
        "adadelta": dict(ftz=False, one_minus="f32", acc="ema_Cx_x", delta="torch", p="sub"),
        "ref": "sec. 8 (flashlight AdamOptimizer.cpp / AdadeltaOptimizer.cpp), no FMA assumed",
    },
    "paper": {
        "adam": dict(ftz=False, one_minus="dbl", pow="dbl", t_offset=0, m="ema", v="ema",
                     form="paper", p="sub"),
        "adadelta": dict(ftz=False, one_minus="dbl", acc="ema", delta="torch", p="add_neg"),
        "ref": "sec. 2 (Kingma & Ba Alg. 1; Zeiler Alg. 1), constants rounded once from double",
    },
}


# ------------------------------------------------------------------------------------
# Position-dependent formulas (vector body vs scalar tail of a SIMD loop)
# ------------------------------------------------------------------------------------
def body_mask(tensors, width):
    """Flat boolean mask: True where the element is in the vector body of a loop that
    runs over each tensor separately in chunks of `width`, scalar tail at the end."""
    parts = []
    for _name, shape in tensors:
        n = int(np.prod(shape))
        m = np.zeros(n, bool)
        m[: n - n % width] = True
        parts.append(m)
    return np.concatenate(parts)


def run_split(fn, init, grads, hp, k, tensors, want=None):
    """Run emulation `fn` with knobs k; if k has 'tail' (a dict of knob overrides for
    the scalar tail) and 'vec_width', run twice and take body elements from the first
    run and tail elements from the second (exact: every formula is elementwise)."""
    kw = {} if want is None else {"want": want}
    base = {a: b for a, b in k.items() if a not in ("tail", "vec_width")}
    out = fn(init, grads, hp, base, **kw)
    if not k.get("tail"):
        return out
    tail = fn(init, grads, hp, dict(base, **k["tail"]), **kw)
    mask = body_mask(tensors, k["vec_width"])
    return {q: np.where(mask[None, :], out[q], tail[q]) for q in out}


# ------------------------------------------------------------------------------------
# Hardware rsqrt oracle (Eigen AVX prsqrt = rsqrtps + one Newton step)
# ------------------------------------------------------------------------------------
_EIGEN_LIB = None


def _eigen_lib():
    global _EIGEN_LIB
    if _EIGEN_LIB is None:
        import ctypes
        import os
        import subprocess
        here = os.path.dirname(os.path.abspath(__file__))
        build = os.path.join(here, ".build")
        os.makedirs(build, exist_ok=True)
        so = os.path.join(build, "eigen_rsqrt.so")
        src = os.path.join(here, "eigen_rsqrt.c")
        if not os.path.exists(so) or os.path.getmtime(so) < os.path.getmtime(src):
            subprocess.check_call(["cc", "-O2", "-mavx", "-mfma", "-ffp-contract=off",
                                   "-shared", "-fPIC", "-o", so, src])
        _EIGEN_LIB = ctypes.CDLL(so)
    return _EIGEN_LIB


def eigen_rsqrt(x, with_fma=False):
    """Eigen AVX fast rsqrt of float32 values, computed on this machine's CPU."""
    import ctypes
    x = np.ascontiguousarray(np.atleast_1d(x), dtype=np.float32)
    n = x.size
    pad = (-n) % 8
    xp = np.concatenate([x.ravel(), np.ones(pad, np.float32)])
    y = np.empty_like(xp)
    P = ctypes.POINTER(ctypes.c_float)
    _eigen_lib().eigen_prsqrt_avx(xp.ctypes.data_as(P), y.ctypes.data_as(P),
                                  ctypes.c_long(xp.size), ctypes.c_int(1 if with_fma else 0))
    return y[:n].reshape(x.shape)
