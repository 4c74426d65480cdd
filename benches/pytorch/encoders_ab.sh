#!/usr/bin/env bash
# Our encoders (criterion's `encode/<model>/flex`, batch 1000) and PyTorch's (bench.py
# --encode-only, batch 1000, warm), alternated model by model for ROUNDS rounds: a paired
# comparison that the machine's drift between two long runs cannot bias. Prints one line per
# pair and each model's median ratio.
#
#   benches/pytorch/encoders_ab.sh PYTHON [ROUNDS] [THREADS] [MODEL...]
#
# PYTHON has torch (benches/pyod/requirements.txt); ROUNDS defaults to 3, THREADS (PyTorch's)
# to 2, the models to mlp-vae deep-ae conv-ae.
set -euo pipefail
python=${1:?usage: $0 PYTHON [ROUNDS] [THREADS] [MODEL...]}
rounds=${2:-3}
threads=${3:-2}
shift $(($# < 3 ? $# : 3))
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(mlp-vae deep-ae conv-ae)
cd "$(dirname "$0")/../.."
cargo bench -q -p ae-benches --bench backends --no-run 2>/dev/null

ours() {
    cargo bench -q -p ae-benches --bench backends -- --warm-up-time 1 --measurement-time 3 \
        --sample-size 10 "encode/$1/flex" 2>/dev/null |
        awk '/thrpt:/ { v = $4; u = $5; exit }
             END { if (u ~ /^K/) v *= 1e3; else if (u ~ /^M/) v *= 1e6; printf "%.0f", v }'
}

theirs() {
    OMP_WAIT_POLICY=PASSIVE "$python" benches/pytorch/bench.py --model "$1" --encode-only \
        --threads "$threads" |
        "$python" -c 'import json, sys; print(round(json.load(sys.stdin)["encode_images_per_second"]))'
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
    for model in "${models[@]}"; do
        a=$(ours "$model")
        b=$(theirs "$model")
        ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
        echo "round $round  $model  ours $a  PyTorch ($threads threads) $b images/s  ratio ${ratio}x"
        echo "$model $ratio" >>"$results"
    done
done
for model in "${models[@]}"; do
    awk -v m="$model" '$1 == m { print $2 }' "$results" | sort -n |
        awk -v m="$model" '{ r[NR] = $1 } END { printf "%s: median ratio %.2fx over %d pairs (%.2f to %.2f)\n", m, r[int((NR + 1) / 2)], NR, r[1], r[NR] }'
done
