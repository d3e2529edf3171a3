#!/usr/bin/env bash
# Runs bench_trainer and the same step in PyTorch with the same threads, then
# prints the targets and one JSON line with both. Exits with 1 when a target
# is missed. Usage: bench/trainer/run.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
threads=${FL_BENCH_THREADS:-$(nproc)}

echo "== fedlora trainer, $threads threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
c_out=$("$build/bin/bench_trainer" "$threads")
echo "$c_out" | grep -v '^C_RESULT'
echo "== PyTorch reference, $threads threads"
torch_out=$(/usr/bin/python3 "$here/torch_step.py" "$threads")
echo "$torch_out" | grep -v '^TORCH_RESULT'

/usr/bin/python3 - "$c_out" "$torch_out" <<'PY'
import json, sys
c = json.loads(sys.argv[1].split("C_RESULT ", 1)[1].splitlines()[0])
t = json.loads(sys.argv[2].split("TORCH_RESULT ", 1)[1].splitlines()[0])
result = {"bench": "trainer", "tokens_per_s": c["tokens_per_s"], "gflops": c["gflops"],
          "sgemm_gflops": c["sgemm_gflops"],
          "mfu_vs_sgemm": round(c["gflops"] / c["sgemm_gflops"], 3),
          "torch_tokens_per_s": t["tokens_per_s"],
          "speedup_vs_torch": round(c["tokens_per_s"] / t["tokens_per_s"], 3),
          "peak_rss_mb": c["peak_rss_mb"]}

# The targets, printed before the final JSON line: a missed one makes the benchmark exit with 1.
peak_bound = 1.5 * (c["weights_mb"] + c["buffers_mb"])
checks = [("mfu_vs_sgemm >= 0.8", result["mfu_vs_sgemm"] >= 0.8),
          ("speedup_vs_torch >= 1.25", result["speedup_vs_torch"] >= 1.25),
          ("peak_rss_mb <= 1.5 x (weights + buffers) = %.0f" % peak_bound,
           c["peak_rss_mb"] <= peak_bound)]
for name, met in checks:
    print("target %s: %s" % (name, "met" if met else "MISSED"))
print(json.dumps(result))
sys.exit(0 if all(met for _, met in checks) else 1)
PY
