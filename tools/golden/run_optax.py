"""optax runner (JAX on CPU, float32).

Presets:
  optax        one training step = jax.jit(update + apply_updates), as in a jitted train step
  optax_nojit  the same under jax.disable_jit(): op by op, no XLA fusion (diagnostic)
"""
import os
import platform
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from common import CHECKPOINTS, STEPS, TENSORS, Recorder, runner_main  # noqa: E402


def framework_info():
    import jaxlib
    return {"name": "optax", "version": optax.__version__, "jax": jax.__version__,
            "jaxlib": jaxlib.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "x64": bool(jax.config.jax_enable_x64)}


def find_state(tree, typename):
    found = []

    def visit(x):
        if type(x).__name__ == typename:
            found.append(x)
        elif isinstance(x, (tuple, list)):
            for y in x:
                visit(y)
    visit(tree)
    assert len(found) == 1, (typename, tree)
    return found[0]


def run_job(job, inputs):
    preset, opt_name, hp = job["preset"], job["optimizer"], job["hparams"]
    if opt_name == "adam":
        tx = optax.adam(learning_rate=hp["lr"], b1=hp["beta1"], b2=hp["beta2"], eps=hp["eps"])
        call = "optax.adam(learning_rate, b1, b2, eps)"
        def read(s):  # noqa: E306
            st = find_state(s, "ScaleByAdamState")
            return {"m": st.mu, "v": st.nu}, ("count", st.count)
        names = {"m": "ScaleByAdamState.mu", "v": "ScaleByAdamState.nu",
                 "count": "ScaleByAdamState.count"}
    elif opt_name == "adadelta":
        tx = optax.adadelta(learning_rate=hp["lr"], rho=hp["rho"], eps=hp["eps"])
        call = "optax.adadelta(learning_rate, rho, eps)"
        def read(s):  # noqa: E306
            st = find_state(s, "ScaleByAdaDeltaState")
            return {"accum_grad": st.e_g, "accum_update": st.e_x}, None
        names = {"accum_grad": "ScaleByAdaDeltaState.e_g",
                 "accum_update": "ScaleByAdaDeltaState.e_x"}
    else:
        mom = hp["momentum"] or None
        tx = optax.sgd(learning_rate=hp["lr"], momentum=mom, nesterov=hp["nesterov"])
        call = "optax.sgd(learning_rate, momentum, nesterov)"
        def read(s):  # noqa: E306
            if mom is None:
                return {}, None
            st = find_state(s, "TraceState")
            return {"momentum": st.trace}, None
        names = {"momentum": "TraceState.trace (g + momentum*trace, lr applied after)"} if mom else {}

    def train_step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params = [jnp.asarray(inputs[n][0]) for n, _ in TENSORS]
    state = tx.init(params)
    if preset == "optax":
        step = jax.jit(train_step)
        how = "jax.jit(update + apply_updates)"
    else:
        def step(p, s, g):
            with jax.disable_jit():
                return train_step(p, s, g)
        how = "jax.disable_jit() (op by op)"
    rec = Recorder()
    for t in range(1, STEPS + 1):
        grads = [jnp.asarray(inputs[n][1][t - 1]) for n, _ in TENSORS]
        params, state = step(params, state, grads)
        if t in CHECKPOINTS:
            st, counter = read(state)
            for i, (n, _) in enumerate(TENSORS):
                rec.add("param", n, np.asarray(params[i]))
                for q, lst in st.items():
                    rec.add(q, n, np.asarray(lst[i]))
            if counter:
                c = np.asarray(counter[1])
                rec.add_counter(counter[0], c, c.dtype)
    states, counters = rec.finish()
    meta = {"call": call + "; " + how, "state_names": names}
    if opt_name == "adam":
        # 1 - decay**count as in optax.tree.bias_correction (count int32), same jit mode
        def pw(decay, c):
            return decay ** c
        if preset == "optax":
            pw = jax.jit(pw, static_argnums=0)
        tab = [[np.asarray(pw(b, jnp.asarray(t, jnp.int32))) for b in (hp["beta1"], hp["beta2"])]
               for t in range(1, STEPS + 1)]
        meta["_aux"] = {"bias_pow": np.array(tab, dtype=np.float32)}
    return states, counters, meta


if __name__ == "__main__":
    runner_main(run_job, framework_info)
