#!/usr/bin/env bash
# The prepared GPU check: run it once on a machine with an NVIDIA GPU (16 cores, one GPU:
# under 8 minutes from a clean checkout).
#
#   1. builds `ae` and the backend tests with the cuda and wgpu features;
#   2. runs the backend-agreement tests on the GPU (cuda and wgpu forward passes of every
#      reference architecture against ndarray, to 1e-4);
#   3. trains mlp-vae-mnist and conv-dae-fashion for one epoch on each GPU backend and on flex,
#      printing training images/s;
#   4. where a Python with torch and CUDA is found ($AE_BENCH_PYTHON, else python3), trains the
#      bench's reference models in PyTorch on CUDA beside `ae --backend cuda`.
#
# Results go to $OUT/gpu-check.json (or target/gpu-check/gpu-check.json) and to stdout; each
# step's log beside it. A step that fails is recorded and the others still run; the exit
# status is 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
out="${OUT:-target/gpu-check}"
mkdir -p "$out"
export CARGO_TERM_COLOR=never
results="$out/gpu-check.jsonl"
: > "$results"
failed=0

log() { echo "== $* ($(( $(date +%s) - started )) s)" >&2; }
record() { echo "$1" >> "$results"; echo "$1"; }

log "build (features cuda, wgpu)"
if ! cargo build --release -p ae-cli --features cuda,wgpu > "$out/build.log" 2>&1 \
  || ! cargo test --release -p ae-cli --features cuda,wgpu --test it --no-run >> "$out/build.log" 2>&1; then
  tail -30 "$out/build.log" >&2
  record '{"step":"build","ok":false}'
  exit 1
fi
record "{\"step\":\"build\",\"ok\":true,\"seconds\":$(( $(date +%s) - started ))}"
ae=target/release/ae

log "backend agreement on the GPU"
for test in cuda_forward_matches_ndarray wgpu_forward_matches_ndarray flex_forward_matches_ndarray; do
  if timeout 300 cargo test --release -p ae-cli --features cuda,wgpu --test it "backends::$test" \
      > "$out/$test.log" 2>&1; then
    record "{\"step\":\"$test\",\"ok\":true}"
  else
    tail -15 "$out/$test.log" >&2
    record "{\"step\":\"$test\",\"ok\":false}"
    failed=1
  fi
done

log "one epoch per experiment and backend"
runs=$(mktemp -d)
for experiment in mlp-vae-mnist conv-dae-fashion; do
  for backend in cuda wgpu flex; do
    extra=()
    [ "$backend" = wgpu ] && extra=(--wgpu-device discrete)
    if timeout 300 "$ae" --backend "$backend" "${extra[@]}" train \
        --config "experiments/$experiment.toml" --epochs 1 --plain --no-pictures \
        --run-dir "$runs/$experiment-$backend" > "$out/$experiment-$backend.json" \
        2> "$out/$experiment-$backend.log"; then
      ips=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['summary']['items_per_second'])" \
        "$out/$experiment-$backend.json" 2>/dev/null || echo null)
      record "{\"step\":\"train\",\"experiment\":\"$experiment\",\"backend\":\"$backend\",\"ok\":true,\"train_images_per_second\":$ips}"
    else
      tail -5 "$out/$experiment-$backend.log" >&2
      record "{\"step\":\"train\",\"experiment\":\"$experiment\",\"backend\":\"$backend\",\"ok\":false}"
      failed=1
    fi
  done
done
rm -rf "$runs"

python="${AE_BENCH_PYTHON:-python3}"
if "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  log "PyTorch on CUDA beside ae --backend cuda (the bench's reference models, one epoch)"
  for model in mlp-vae deep-ae conv-ae; do
    if line=$(timeout 300 "$python" benches/pytorch/bench.py --model "$model" --device cuda 2> "$out/pytorch-$model.log"); then
      record "{\"step\":\"pytorch\",\"ok\":true,\"result\":$line}"
    else
      record "{\"step\":\"pytorch\",\"model\":\"$model\",\"ok\":false}"
    fi
  done
  if timeout 400 cargo xtask bench --skip-criterion --backends cuda --ae-features ae-cli/cuda,ae-cli/wgpu \
      > "$out/bench-cuda.log" 2>&1; then
    record "{\"step\":\"bench-cuda\",\"ok\":true,\"table\":\"target/bench/epochs-latest.json\"}"
    cp target/bench/*.md target/bench/*.json "$out/" 2>/dev/null
  else
    tail -10 "$out/bench-cuda.log" >&2
    record '{"step":"bench-cuda","ok":false}'
    failed=1
  fi
else
  record '{"step":"pytorch","ok":null,"why":"no Python with torch and CUDA"}'
fi

seconds=$(( $(date +%s) - started ))
python3 - "$results" "$out/gpu-check.json" "$seconds" "$failed" <<'EOF'
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump({"seconds": int(sys.argv[3]), "ok": sys.argv[4] == "0", "steps": steps},
          open(sys.argv[2], "w"), indent=2)
EOF
log "done: $out/gpu-check.json"
exit "$failed"
