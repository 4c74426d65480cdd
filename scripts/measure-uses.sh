#!/usr/bin/env bash
# Measurements for the "uses of an autoencoder" issue: one-class anomaly detection (AUROC per
# class, MNIST and Fashion-MNIST) and denoising PSNR against a 3x3 median filter and PCA.
#
# Usage: scripts/measure-uses.sh OUT_DIR [ONECLASS_EPOCHS] [DENOISE_EPOCHS] [DENOISE_LIMIT]
# Run from the repository root after `cargo build --release -p ae-cli`. Full run:
#   nice -n 10 scripts/measure-uses.sh runs/uses 30 30
# Environment: PARTS (default "oneclass denoise"), DENOISE_HIDDEN (default 1000,500),
# DENOISE_LATENT (default 64; the PCA baseline uses as many components), DENOISE_BATCH (64),
# DENOISE_CONFIG (a config that gives the model and training, such as an lr_schedule; then
# DENOISE_HIDDEN and DENOISE_LATENT are not used),
# DATASETS (default "mnist fashion-mnist"), ONECLASS_SEED (default 1).
# Each one-class run is scored twice: by reconstruction error, and by the error divided by
# the image's total variation (`--score error-per-tv`).
set -euo pipefail
OUT=${1:?output folder}
ONECLASS_EPOCHS=${2:-30}
DENOISE_EPOCHS=${3:-30}
DENOISE_LIMIT=${4:-60000}
AE=${AE:-target/release/ae}
DATA=${AE_DATASETS:-datasets}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
PARTS=${PARTS:-oneclass denoise}
DATASETS=${DATASETS:-mnist fashion-mnist}
DENOISE_HIDDEN=${DENOISE_HIDDEN:-1000,500}
DENOISE_LATENT=${DENOISE_LATENT:-64}
DENOISE_BATCH=${DENOISE_BATCH:-64}
ONECLASS_SEED=${ONECLASS_SEED:-1}
DENOISE_MODEL_FLAGS=(--model ae --latent "$DENOISE_LATENT" --hidden "$DENOISE_HIDDEN")
if [[ -n "${DENOISE_CONFIG:-}" ]]; then DENOISE_MODEL_FLAGS=(--config "$DENOISE_CONFIG"); fi

for dataset in $DATASETS; do
  [[ " $PARTS " == *" oneclass "* ]] || break
  total=0
  total_tv=0
  for class in 0 1 2 3 4 5 6 7 8 9; do
    run="$OUT/oneclass-$dataset-$class"
    "$AE" train --model ae --latent 32 --hidden 512,128 --data "$dataset" --data-path "$DATA" \
      --normal-classes "$class" --epochs "$ONECLASS_EPOCHS" --batch-size 64 --seed "$ONECLASS_SEED" \
      --run-dir "$run" --plain --no-pictures > "$run.train.json" 2> "$run.train.log"
    "$AE" anomaly fit "$run" --contamination 0.05 > "$run.fit.json"
    "$AE" anomaly eval "$run" > "$run.eval.json"
    "$AE" anomaly eval "$run" --score error-per-tv --out "$run/roc-tv.png" > "$run.eval-tv.json"
    auroc=$(grep '"auroc"' "$run.eval.json" | tr -dc '0-9.')
    auroc_tv=$(grep '"auroc"' "$run.eval-tv.json" | tr -dc '0-9.')
    echo "oneclass $dataset class $class auroc $auroc error-per-tv $auroc_tv" | tee -a "$SUMMARY"
    total=$(echo "$total + $auroc" | bc -l)
    total_tv=$(echo "$total_tv + $auroc_tv" | bc -l)
  done
  echo "oneclass $dataset mean auroc $(echo "$total / 10" | bc -l) error-per-tv $(echo "$total_tv / 10" | bc -l)" | tee -a "$SUMMARY"
done

for dataset in $DATASETS; do
  [[ " $PARTS " == *" denoise "* ]] || break
  for noise in gaussian:0.3 gaussian:0.5 salt-and-pepper:0.2 masking:0.25; do
    run="$OUT/denoise-$dataset-${noise/:/-}"
    "$AE" train "${DENOISE_MODEL_FLAGS[@]}" --data "$dataset" \
      --data-path "$DATA" --noise "$noise" --limit "$DENOISE_LIMIT" --epochs "$DENOISE_EPOCHS" \
      --batch-size "$DENOISE_BATCH" --seed 1 \
      --run-dir "$run" --plain --no-pictures > "$run.train.json" 2> "$run.train.log"
    "$AE" denoise "$run" --pca-components 16,32,64,128,256,400 > "$run.denoise.json"
    python3 - "$run.denoise.json" "$dataset" <<'PY' | tee -a "$SUMMARY"
import json, sys
report = json.load(open(sys.argv[1]))
for c in report["corruptions"]:
    p, s = c["psnr"], c["ssim"]
    print(f"denoise {sys.argv[2]} {c['corruption']}: PSNR noisy {p['noisy']:.2f} AE {p['autoencoder']:.2f} "
          f"median {p['median_3x3']:.2f} PCA {p['pca']:.2f} dB (gain {c['gain_over_best_baseline_db']:+.2f} dB); "
          f"SSIM AE {s['autoencoder']:.3f} median {s['median_3x3']:.3f} PCA {s['pca']:.3f}")
PY
  done
done
