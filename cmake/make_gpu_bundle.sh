#!/usr/bin/env bash
# make_gpu_bundle.sh BUNDLE_DIR RUNTIME_TXT BINARY...
#
# Run by the `gpu-bundle` target (cmake/ParityCuda.cmake); docs/GPU.md.
#
# Makes BUNDLE_DIR-tree/: the test and benchmark binaries (stripped, with an
# rpath of $ORIGIN/lib) and, in lib/, every shared library they load that a GPU
# machine with only the CUDA toolkit may lack (OpenBLAS and its Fortran
# runtime, OpenMP, Google Benchmark, ...). Left out: the C/C++ runtime and
# system libraries, which every Linux has, and the CUDA libraries (driver,
# cuBLAS, cuDNN), which tools/gpu-check.sh finds on the GPU machine. This
# build's C++ runtime goes into lib/fallback, used only where the machine's is
# older.
#
# Then packs that tree into BUNDLE_DIR/parity-gpu-bundle.tar.xz, with
# BUNDLE_DIR/MANIFEST.txt beside it: BUNDLE_DIR is what travels to the GPU
# machine. Every binary links the whole library (its CUDA kernels included),
# so the tree is large (~140 MiB) but nearly the same bytes over and over; xz
# with a dictionary larger than one binary shrinks it about tenfold.
set -euo pipefail

out=$1
runtime_txt=$2
shift 2

bundle="$out-tree"
rm -rf "$bundle" "$out"
mkdir -p "$bundle/lib/fallback" "$out"

is_system_lib() {
  case "$1" in
    linux-vdso.so*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*|libresolv.so*) return 0 ;;
    libstdc++.so*|libgcc_s.so*) return 0 ;;
    libcuda.so*|libcublas*|libcudnn*|libcudart*|libnvrtc*|libnvJitLink*|libcufft*|libcurand*|libcusolver*|libcusparse*) return 0 ;;
  esac
  return 1
}

# cuBLAS and cuDNN are opened on first use (not in ldd): the configure's list.
needed_cuda=$(sed -n 's/^shared libraries opened on first use[^:]*: //p' "$runtime_txt" | tr ';' ' ')
for bin in "$@"; do
  name=$(basename "$bin")
  cp "$bin" "$bundle/$name"
  strip --strip-unneeded "$bundle/$name" 2>/dev/null || true
  # ldd: "libfoo.so.1 => /path/libfoo.so.1 (0x...)"
  while read -r soname arrow path _; do
    [[ "$arrow" == "=>" ]] || continue
    case "$soname" in
      libcuda.so*|libcublas*|libcudnn*) needed_cuda="$needed_cuda $soname" ;;
    esac
    if [[ "$path" == "not" ]]; then
      echo "make_gpu_bundle: $name needs $soname, which is not found here" >&2
      continue
    fi
    is_system_lib "$soname" && continue
    [[ -e "$bundle/lib/$soname" ]] && continue
    cp -L "$path" "$bundle/lib/$soname"
    strip --strip-unneeded "$bundle/lib/$soname" 2>/dev/null || true
  done < <(ldd "$bin")
done

# The C++ runtime of this build, for a machine whose own is older.
for lib in libstdc++.so.6 libgcc_s.so.1; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !found {print $NF; found = 1}')
  [[ -n "$path" ]] && cp -L "$path" "$bundle/lib/fallback/$lib"
done

{
  echo "Parity GPU bundle"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n) ($(. /etc/os-release && echo "$PRETTY_NAME"))"
  if git -C "$(dirname "$0")/.." rev-parse HEAD >/dev/null 2>&1; then
    echo "commit: $(git -C "$(dirname "$0")/.." rev-parse HEAD)$(git -C "$(dirname "$0")/.." diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
  fi
  cat "$runtime_txt"
  # The headers this build was compiled against (tools/gpu-check.sh compares the machine's libraries).
  inc=${CUDA_INCLUDE_DIR:-/usr/local/cuda/include}
  hv() { awk -v k="$2" '$1 == "#define" && $2 == k {print $3}' "$inc/$1" 2>/dev/null | head -1; }
  echo "cudnn_headers $(hv cudnn_version.h CUDNN_MAJOR).$(hv cudnn_version.h CUDNN_MINOR).$(hv cudnn_version.h CUDNN_PATCHLEVEL)"
  echo "cublas_headers $(hv cublas_api.h CUBLAS_VER_MAJOR).$(hv cublas_api.h CUBLAS_VER_MINOR).$(hv cublas_api.h CUBLAS_VER_PATCH)"
  echo "CUDA libraries the binaries load from the machine:$(echo "$needed_cuda" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
  echo "binaries:"
  for bin in "$@"; do echo "  $(basename "$bin")"; done
  echo "bundled libraries:"
  (cd "$bundle/lib" && find . -type f | sort | sed 's/^\.\//  /')
} > "$bundle/MANIFEST.txt"
cp "$bundle/MANIFEST.txt" "$out/MANIFEST.txt"

# Binaries one after the other in the archive, so each is compressed against
# the previous one (xz -6: an 8 MiB dictionary).
members=("$(basename "$bundle")/MANIFEST.txt")
for bin in "$@"; do members+=("$(basename "$bundle")/$(basename "$bin")"); done
members+=("$(basename "$bundle")/lib")
tar -C "$(dirname "$bundle")" -cf - "${members[@]}" | xz -6 -T1 > "$out/parity-gpu-bundle.tar.xz"

tree_mb=$(du -sm "$bundle" | cut -f1)
size=$(du -sm "$out" | cut -f1)
echo "gpu-bundle: $out, ${size} MiB ($# binaries; ${tree_mb} MiB unpacked in $bundle)"
if (( size > 48 )); then
  echo "gpu-bundle: warning: ${size} MiB leaves little of the device tool's 64 MiB for the working tree" >&2
fi
