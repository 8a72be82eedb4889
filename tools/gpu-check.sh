#!/usr/bin/env bash
# tools/gpu-check.sh OUTDIR [BUNDLE_DIR]
#
# Runs every Parity test binary (the CUDA ones included) and the benchmarks on a
# machine with a GPU, from the bundle built on a machine without one
# (`ninja -C build-cuda gpu-bundle`; docs/GPU.md). Writes under OUTDIR:
#   <binary>.json / <binary>.log   GoogleTest results and output of each test binary
#   bench_<name>.json / .log       Google Benchmark results of each suite
#   machine.txt                    the GPU, driver and libraries found
#   summary.txt                    the table printed last
# Exits non-zero if any test fails, crashes or times out.
#
# BUNDLE_DIR (default: build-cuda/gpu-bundle next to this script's repository,
# or $PARITY_BUNDLE) holds parity-gpu-bundle.tar.xz, or an unpacked bundle.
# The CUDA libraries the binaries load (cuBLAS, cuDNN 9 with its sub-libraries)
# are found on the machine: the CUDA toolkit's folders, the system's, then
# Python's nvidia-* packages (PyTorch's nvidia-cudnn-cu13), then a bounded find.
# Time: about 3-5 minutes on an H100 (see docs/GPU.md); every binary runs under
# a timeout so the whole check ends inside the device tool's 10-minute limit.
set -uo pipefail

out=${1:?usage: tools/gpu-check.sh OUTDIR [BUNDLE_DIR]}
mkdir -p "$out"
out=$(cd "$out" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=${2:-${PARITY_BUNDLE:-$root/build-cuda/gpu-bundle}}
t_start=$(date +%s)
# Everything ends by this many seconds after the start (the device tool's
# command limit is 600 s): later binaries are then not run, and the check fails.
deadline=${PARITY_GPU_CHECK_DEADLINE:-480}
log() { echo "gpu-check [$(( $(date +%s) - t_start ))s]: $*"; }
# The time a binary may take: its own limit, cut to what is left before the deadline.
budget() { local left=$(( deadline - ($(date +%s) - t_start) )); (( left < $1 )) && echo "$left" || echo "$1"; }

# ---- the bundle ----
if [[ -f $bundle/parity-gpu-bundle.tar.xz ]]; then
  work=${TMPDIR:-/tmp}/parity-gpu-bundle.$$
  rm -rf "$work" && mkdir -p "$work"
  if command -v xz >/dev/null 2>&1; then
    tar -C "$work" -xJf "$bundle/parity-gpu-bundle.tar.xz"
  else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' \
      "$bundle/parity-gpu-bundle.tar.xz" "$work"
  fi
  bin=$(echo "$work"/*/)
  bin=${bin%/}
elif [[ -f $bundle/MANIFEST.txt && -d $bundle/lib ]]; then
  bin=$bundle
else
  echo "gpu-check: no bundle in $bundle (build one with: ninja -C build-cuda gpu-bundle)" >&2
  exit 2
fi
log "bundle unpacked in $bin"

# ---- the machine's CUDA libraries ----
# find_lib_dir NAME [COMPANION...]: the first folder holding NAME and every
# COMPANION. cuDNN 9's libcudnn.so.9 is a small loader that dlopens its
# sub-libraries from its own folder, so a folder counts for it only when they
# are there too (a toolkit folder may hold a lone libcudnn).
has_all() {  # folder name companion...
  local dir=$1 f
  shift
  for f in "$@"; do [[ -e $dir/$f ]] || return 1; done
  return 0
}
find_lib_dir() {
  local name=$1 d py
  local candidates=("${CUDA_HOME:-/nonexistent}/lib64" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib)
  for d in /usr/local/cuda-*/lib64 /usr/local/cuda-*/lib /usr/local/cuda-*/targets/x86_64-linux/lib; do candidates+=("$d"); done
  candidates+=(/usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/lib)
  for d in "${candidates[@]}"; do
    has_all "$d" "$@" && { echo "$d"; return 0; }
  done
  # Python's nvidia-* wheels (PyTorch's CUDA libraries: nvidia/cublas/lib, nvidia/cudnn/lib, ...).
  for py in python3 /opt/torch/.venv/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    while read -r d; do
      [[ -n $d ]] && has_all "$d" "$@" && { echo "$d"; return 0; }
    done < <("$py" - "$name" 2>/dev/null <<'EOF'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
for r in roots:
    for hit in glob.glob(os.path.join(r, "nvidia", "**", sys.argv[1]), recursive=True):
        print(os.path.dirname(hit))
EOF
)
  done
  while read -r d; do
    [[ -n $d ]] && has_all "$(dirname "$d")" "$@" && { dirname "$d"; return 0; }
  done < <(timeout 30 find / -xdev \( -path /proc -o -path /sys \) -prune -o -name "$name" -print 2>/dev/null | head -20)
  return 1
}

# What cuDNN 9 loads from libcudnn.so.9's folder for convolution and pooling
# (parity/cuda/conv.cpp, parity/cuda/pool.cpp; docs/GPU.md). libcudnn_engines_runtime_compiled
# (which needs NVRTC) and, in newer 9.x, libcudnn_engines_tensor_ir are loaded
# too when present.
cudnn_parts=(libcudnn_graph.so.9 libcudnn_ops.so.9 libcudnn_cnn.so.9 libcudnn_heuristic.so.9
             libcudnn_engines_precompiled.so.9)

libpath="$bin/lib"
cuda_runtime_version=13.0
min_driver=580.65   # CUDA 13.0's minimum Linux driver (CUDA toolkit release notes)
# A GPU the driver lists: then a CUDA test that skips for "no device" is a failure
# (a driver too old for the static runtime, or no libcuda, would skip them all).
gpu_listed=0
if nvidia-smi -L 2>/dev/null | grep -q "^GPU "; then gpu_listed=1; fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -n) $(uname -r)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv 2>&1 || echo "nvidia-smi failed"
  command -v nvcc >/dev/null && nvcc --version | tail -1
  for lib in libcublas.so.13 libcublasLt.so.13 libcudnn.so.9 libnvrtc.so.13; do
    companions=()
    [[ $lib == libcudnn.so.9 ]] && companions=("${cudnn_parts[@]}")
    if d=$(find_lib_dir "$lib" "$lib" "${companions[@]}"); then
      echo "$lib: $d"
      case ":$libpath:" in *":$d:"*) ;; *) libpath="$libpath:$d" ;; esac
      if [[ $lib == libcublasLt.so.13 ]]; then
        echo "  cuBLASLt version: $(python3 -c 'import ctypes, sys; v = ctypes.CDLL(sys.argv[1]).cublasLtGetVersion(); print(f"{v // 10000}.{v % 10000 // 100}.{v % 100}")' "$d/$lib" 2>&1)"
      fi
      if [[ $lib == libcudnn.so.9 ]]; then
        echo "  cuDNN parts there: $(cd "$d" && ls libcudnn_*.so.9 2>/dev/null | tr '\n' ' ')"
        echo "  cuDNN version: $(python3 -c 'import ctypes, sys; v = ctypes.CDLL(sys.argv[1]).cudnnGetVersion(); print(f"{v // 10000}.{v % 10000 // 100}.{v % 100}")' "$d/$lib" 2>&1)"
      fi
    elif [[ $lib == libnvrtc.so.13 ]]; then
      echo "$lib: not found (optional: cuDNN's runtime-compiled engines need it)"
    elif [[ $lib == libcudnn.so.9 ]]; then
      echo "$lib: NOT FOUND together with ${cudnn_parts[*]}: every binary needs it to load"
    else
      echo "$lib: NOT FOUND"
    fi
  done
  # What this build needs, against what the machine has (MANIFEST.txt records the headers').
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
  echo "driver: ${driver:-none} (the static CUDA ${cuda_runtime_version} runtime needs >= ${min_driver})"
  echo "cuDNN headers of this build: $(grep -m1 '^cudnn_headers' "$bin/MANIFEST.txt" 2>/dev/null | cut -d' ' -f2- || echo unknown)"
  echo "cuBLAS headers of this build: $(grep -m1 '^cublas_headers' "$bin/MANIFEST.txt" 2>/dev/null | cut -d' ' -f2- || echo unknown)"
  echo "bundle manifest:"
  sed 's/^/  /' "$bin/MANIFEST.txt"
} > "$out/machine.txt" 2>&1
export LD_LIBRARY_PATH="$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
probe=$(ls "$bin"/test_* | head -1)
# This build's C++ runtime only where the machine's is too old for it; then
# first on the path, so that an older system one does not win.
if ldd "$probe" 2>&1 | grep -q "not found"; then
  export LD_LIBRARY_PATH="$bin/lib/fallback:$LD_LIBRARY_PATH"
  echo "using the bundled C++ runtime (lib/fallback, first on LD_LIBRARY_PATH)" >> "$out/machine.txt"
fi
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >> "$out/machine.txt"
cat "$out/machine.txt"
if ldd "$probe" 2>&1 | grep "not found"; then
  echo "gpu-check: test binaries cannot load their libraries (above)" >&2
fi

# Tests that read data files by the absolute path of the build machine's checkout.
if [[ ! -e /work/main && $root != /work/main ]]; then
  mkdir -p /work 2>/dev/null && ln -s "$root" /work/main 2>/dev/null && log "linked /work/main -> $root"
fi

# ---- tests ----
status=0
declare -a test_rows=()
run_test() {  # name timeout
  local name=$1 limit t0 rc
  limit=$(budget "$2")
  if (( limit < 10 )); then
    test_rows+=("$name 124 0")
    status=1
    log "$name NOT RUN: the ${deadline}s deadline has passed"
    return
  fi
  t0=$(date +%s)
  (cd "$root" && timeout -k 10 "$limit" "$bin/$name" --gtest_output="json:$out/$name.json" >"$out/$name.log" 2>&1)
  rc=$?
  test_rows+=("$name $rc $(( $(date +%s) - t0 ))")
  if (( rc != 0 )); then
    status=1
    log "$name FAILED (exit $rc$( (( rc == 124 || rc == 137 )) && echo ", timed out after ${limit}s"))"
    grep -E "^\[  FAILED  \]|Failure|error" "$out/$name.log" | head -20
  else
    log "$name ok ($(( $(date +%s) - t0 ))s)"
  fi
}

# The CUDA suites first: they are what this check is for.
for t in "$bin"/test_cuda*; do [[ -x $t ]] && run_test "$(basename "$t")" 240; done
for t in "$bin"/test_*; do
  name=$(basename "$t")
  [[ -x $t && $name != test_cuda* ]] || continue
  run_test "$name" 240
done

# ---- a GPU that is there must be used ----
if (( gpu_listed )); then
  for log_file in "$out"/test_cuda*.log; do
    [[ -f $log_file ]] || continue
    if grep -q "no CUDA device" "$log_file"; then
      status=1
      log "$(basename "$log_file" .log): CUDA tests SKIPPED for 'no CUDA device' although nvidia-smi lists a GPU:" \
          "the GPU is present but unusable (driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)," \
          "needs >= $min_driver; see machine.txt)"
    fi
  done
fi

# ---- compute-sanitizer (memcheck; racecheck on the shared-memory reductions) ----
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
  "$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null)"/nvidia/cuda_sanitizer_api/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
declare -a sanitizer_rows=()
run_sanitizer() {  # tool binary filter
  local tool=$1 name=$2 filter=$3 limit rc
  limit=$(budget 90)
  if (( limit < 10 )); then sanitizer_rows+=("$tool:$name 124 0"); status=1; return; fi
  (cd "$root" && timeout -k 10 "$limit" "$sanitizer" --tool "$tool" --error-exitcode 99 "$bin/$name" \
      --gtest_filter="$filter" >"$out/sanitizer_${tool}_$name.log" 2>&1)
  rc=$?
  sanitizer_rows+=("$tool:$name $rc")
  if (( rc != 0 )); then status=1; log "compute-sanitizer $tool $name FAILED (exit $rc)"; else log "compute-sanitizer $tool $name ok"; fi
}
if (( gpu_listed )) && [[ -n $sanitizer && -x $sanitizer ]]; then
  run_sanitizer memcheck test_cuda_ops "*Add*:*Sum*:*Matmul*"
  run_sanitizer memcheck test_cuda_conv "*Seed*"
  run_sanitizer racecheck test_cuda_ops "*Sum*:*Argmax*"
elif (( gpu_listed )); then
  log "compute-sanitizer not found on this machine: NOT RUN (the toolkit's bin, PATH, pip's nvidia-cuda-sanitizer-api)"
  echo "compute-sanitizer: not found, not run" >> "$out/machine.txt"
fi

# ---- benchmarks ----
declare -a bench_rows=()
run_bench() {  # name timeout args...
  local name=$1 limit t0 rc
  limit=$(budget "$2")
  shift 2
  if (( limit < 10 )); then
    bench_rows+=("$name 124 0")
    log "$name NOT RUN: the ${deadline}s deadline has passed"
    return
  fi
  t0=$(date +%s)
  (cd "$root" && timeout -k 10 "$limit" "$bin/$name" --benchmark_out="$out/$name.json" --benchmark_out_format=json \
      "$@" >"$out/$name.log" 2>&1)
  rc=$?
  bench_rows+=("$name $rc $(( $(date +%s) - t0 ))")
  log "$name exit $rc ($(( $(date +%s) - t0 ))s)"
}
if [[ -x $bin/bench_cuda ]]; then
  run_bench bench_cuda 200 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
fi
# The seed model's layers through cuDNN at full size (fixed iteration counts;
# about a minute, most of it the CPU checks and cudnnFind in fast mode).
if [[ -x $bin/bench_conv_cuda ]]; then
  run_bench bench_conv_cuda 180
fi
for b in "$bin"/bench_*; do
  name=$(basename "$b")
  [[ -x $b && $name != bench_cuda && $name != bench_conv_cuda ]] || continue
  # The CPU suites, briefly: they are measured on the development machines.
  run_bench "$name" 120 --benchmark_min_time=0.05
done

# ---- summary ----
# The full benchmark table first, the short summary last (the device tool
# returns the end of the output).
if [[ -f $root/bench/bench_table.py && -f $out/bench_cuda.json ]]; then
  python3 "$root/bench/bench_table.py" "$out/bench_cuda.json" > "$out/bench_table.txt" 2>&1
  cat "$out/bench_table.txt"
  echo
fi
{
  python3 "$root/tools/gpu_check_summary.py" "$out" "${test_rows[@]/#/test:}" "${bench_rows[@]/#/bench:}"
  echo
  echo "gpu-check: $(( $(date +%s) - t_start ))s in all; results in $out; $( ((status == 0)) && echo "ALL TESTS PASSED" || echo "SOME TESTS FAILED")"
} > "$out/summary.txt" 2>&1
cat "$out/summary.txt"
[[ -n ${work:-} ]] && rm -rf "$work"
exit $status
