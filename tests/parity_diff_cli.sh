#!/usr/bin/env bash
# parity-diff as a user runs it: per-side settings reach the report (B under
# TF32 parts at the first layer's forward, and the JSON says what each side ran),
# and a bad value is an error naming the flag, with a non-zero exit.
#   tests/parity_diff_cli.sh <parity-diff> <work dir>
set -euo pipefail
exe=$1 work=$2
mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

out=$("$exe" --a tensorflow --b tensorflow --math-b tf32 --conv-b im2col --steps 2 --samples 128 \
  --json "$work/tf32.json")
grep -q "B = tensorflow (keras2_tensorflow) \[cpu, tf32, deterministic, im2col_gemm convolutions\]" <<<"$out" ||
  fail "the summary does not state B's settings: $out"
grep -q "first divergence beyond float32 rounding: step 1, forward, 0 (Conv2D)" <<<"$out" ||
  fail "TF32 on B was not found at the first layer's forward: $out"
grep -q "math mode strict_fp32 vs tf32" <<<"$out" || fail "the diagnosis does not name the math mode: $out"
grep -q '"math_mode": "tf32"' "$work/tf32.json" || fail "the JSON has no b_numerics math mode"
grep -q '"cpu_conv_algorithm": "im2col_gemm"' "$work/tf32.json" || fail "the JSON has no b_numerics algorithm"

if err=$("$exe" --math-a fast 2>&1); then fail "--math-a fast was accepted"; fi
grep -q -- "--math-a 'fast': expected strict or tf32" <<<"$err" || fail "unhelpful error: $err"
if err=$("$exe" --device-b gpu7 2>&1); then fail "--device-b gpu7 was accepted"; fi
grep -q -- "expected cpu, cuda or cuda:N" <<<"$err" || fail "unhelpful error: $err"
echo "parity-diff CLI: OK"
