"""PyTorch runner (torch.optim on CPU, float32).  Runs under the venv (current torch)
and under Debian's /usr/bin/python3 (python3-torch 1.13.1)."""
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import CHECKPOINTS, STEPS, TENSORS, Recorder, Unavailable, runner_main  # noqa: E402

torch.set_num_threads(1)


def framework_info():
    info = {"name": "torch", "version": torch.__version__,
            "python": platform.python_version(), "numpy": np.__version__,
            "num_threads": torch.get_num_threads(),
            }
    if torch.__file__.startswith("/usr/lib/python3/"):
        import subprocess
        try:
            info["debian_package"] = subprocess.check_output(
                ["dpkg-query", "-W", "-f", "${Package} ${Version}", "python3-torch"], text=True)
        except (OSError, subprocess.CalledProcessError):
            pass
    info["mkl"] = bool(torch.backends.mkl.is_available())
    try:
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        info["cpu_capability"] = os.environ.get("ATEN_CPU_CAPABILITY", "unknown (torch<2.0)")
    return info


MODE = {
    "pytorch": dict(foreach=False), "pytorch_foreach": dict(foreach=True),
    "pytorch_fused": dict(fused=True),
    "pytorch_1_13": dict(foreach=False), "pytorch_1_13_foreach": dict(foreach=True),
}


def run_job(job, inputs):
    preset, opt_name, hp = job["preset"], job["optimizer"], job["hparams"]
    mode = MODE[preset]
    params = [torch.nn.Parameter(torch.from_numpy(inputs[n][0].copy())) for n, _ in TENSORS]
    try:
        if opt_name == "adam":
            opt = torch.optim.Adam(params, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                                   eps=hp["eps"], **mode)
            names = {"m": "exp_avg", "v": "exp_avg_sq"}
        elif opt_name == "adadelta":
            if "fused" in mode:
                raise Unavailable("torch.optim.Adadelta has no fused implementation")
            opt = torch.optim.Adadelta(params, lr=hp["lr"], rho=hp["rho"], eps=hp["eps"], **mode)
            names = {"accum_grad": "square_avg", "accum_update": "acc_delta"}
        else:
            opt = torch.optim.SGD(params, lr=hp["lr"], momentum=hp["momentum"],
                                  nesterov=hp["nesterov"], **mode)
            names = {"momentum": "momentum_buffer"} if hp["momentum"] else {}
    except (TypeError, RuntimeError, ValueError) as e:
        raise Unavailable("%s(%s) rejected: %s" % (opt_name, mode, e))
    rec = Recorder()
    for t in range(1, STEPS + 1):
        for (n, _), p in zip(TENSORS, params):
            p.grad = torch.from_numpy(inputs[n][1][t - 1].copy())
        try:
            opt.step()
        except RuntimeError as e:
            if t == 1:
                raise Unavailable("step() failed: %s" % e)
            raise
        if t in CHECKPOINTS:
            for (n, _), p in zip(TENSORS, params):
                rec.add("param", n, p.detach().numpy())
                st = opt.state[p]
                for q, fq in names.items():
                    rec.add(q, n, st[fq].numpy())
            st0 = opt.state[params[0]]
            if "step" in st0:
                s = st0["step"]
                if torch.is_tensor(s):
                    rec.add_counter("step", s.item(), s.numpy().dtype)
                else:
                    rec.add_counter("step", s, np.int64)
    states, counters = rec.finish()
    meta = {"state_names": dict(names, param="param.data"),
            "call": "torch.optim.%s(..., %s)" % (type(opt).__name__,
                                                 ", ".join("%s=%s" % kv for kv in mode.items()))}
    if "step" in counters:
        meta["state_names"]["step"] = "state['step'] (%s)" % counters["step"].dtype
    return states, counters, meta


if __name__ == "__main__":
    runner_main(run_job, framework_info)
