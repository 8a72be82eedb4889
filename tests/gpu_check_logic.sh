#!/usr/bin/env bash
# tests/gpu_check_logic.sh REPO: the GPU check cannot pass while running nothing.
# A fake bundle whose one CUDA test binary skips "no CUDA device", and a fake
# nvidia-smi on the PATH: with a GPU listed, tools/gpu-check.sh must fail and
# say the GPU is unusable; with none listed (no driver), the skip is not its
# failure. Runs on any machine (no GPU needed).
set -uo pipefail
repo=${1:?usage: gpu_check_logic.sh REPO}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/lib" "$work/fake_bin"
printf 'Parity GPU bundle (fake)\ncudnn_headers 9.19.0\ncublas_headers 13.0.0\n' > "$work/bundle/MANIFEST.txt"
cat > "$work/bundle/test_cuda_fake" <<'T'
#!/usr/bin/env bash
echo "[ RUN      ] CudaFake.Op"
echo "tests/test_devices.h:28: Skipped"
echo "no CUDA device: this build or machine has no GPU (CUDA tests skipped)"
echo "[  SKIPPED ] CudaFake.Op (0 ms)"
echo "[  PASSED  ] 0 tests."
exit 0
T
chmod +x "$work/bundle/test_cuda_fake"

fake_smi() {  # $1: list a GPU (1) or fail like a machine without a driver (0)
  if [[ $1 == 1 ]]; then
    cat > "$work/fake_bin/nvidia-smi" <<'S'
#!/usr/bin/env bash
case "$*" in
  *-L*) echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-fake)" ;;
  *driver_version*) echo "535.104" ;;
  *) echo "name, memory.total, driver_version"; echo "NVIDIA H100, 81559 MiB, 535.104" ;;
esac
S
  else
    printf '#!/usr/bin/env bash\necho "NVIDIA-SMI has failed" >&2\nexit 9\n' > "$work/fake_bin/nvidia-smi"
  fi
  chmod +x "$work/fake_bin/nvidia-smi"
}

run_check() {
  PATH="$work/fake_bin:$PATH" PARITY_GPU_CHECK_DEADLINE=120 bash "$repo/tools/gpu-check.sh" "$work/out$1" \
    "$work/bundle" > "$work/log$1" 2>&1
}

fail=0
fake_smi 1
run_check 1 && { echo "FAIL: a listed GPU with every CUDA test skipped passed the check"; fail=1; }
grep -q "present but unusable" "$work/log1" || { echo "FAIL: the check did not say the GPU is unusable"; fail=1; }
grep -q "needs >= 580" "$work/log1" || { echo "FAIL: the check did not name the driver's minimum"; fail=1; }
fake_smi 0
run_check 2 || { echo "FAIL: without a GPU the skipped CUDA tests failed the check"; tail -20 "$work/log2"; fail=1; }
# Defect 4: where the machine's C++ runtime is too old for the bundle's
# binaries (ldd: "not found"), the bundled one comes first on the path.
cat > "$work/fake_bin/ldd" <<'L'
#!/usr/bin/env bash
echo "	libstdc++.so.6 => not found"
L
chmod +x "$work/fake_bin/ldd"
LD_LIBRARY_PATH=/usr/lib/old-runtime run_check 3
grep -q "^LD_LIBRARY_PATH=$work/bundle/lib/fallback:" "$work/out3/machine.txt" ||
  { echo "FAIL: the bundled C++ runtime is not first on LD_LIBRARY_PATH"; grep LD_LIBRARY_PATH "$work/out3/machine.txt"; fail=1; }
rm -f "$work/fake_bin/ldd"
if (( fail )); then
  echo "--- log with a GPU listed:"; tail -30 "$work/log1"
  exit 1
fi
echo "gpu_check_logic: 3 passed, 0 failed"
