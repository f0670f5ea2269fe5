#!/usr/bin/env bash
# Head-generator ablations: each variant is trained by train_head.py into runs/head_ablations/NAME (a copy of the
# shipped generator) and checked with research/quick_val_check.py --method hypernetwork; the JSON rows land in
# reports/ablations/ and research/render_ablations.py renders them. About 25 minutes on the 2-core CPU (the first run
# computes the frozen base's features, ~8 min; the others reuse them through --feature_cache).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"  # research/ scripts import text2lora from this checkout
GEN=${GEN:-text2lora/data/generator}
OUT=runs/head_ablations
CACHE=$OUT/features.pt
mkdir -p "$OUT"
variant() {  # NAME, then train_head.py flags
  local name=$1; shift
  rm -rf "$OUT/$name"
  python train_head.py --generator "$GEN" --output_dir "$OUT/$name" --feature_cache "$CACHE" "$@"
  python research/quick_val_check.py --generator "$OUT/$name" --method hypernetwork --name "head_$name" \
    --training "python train_head.py $*" --output "reports/ablations/quick_val_head_$name.json"
}
variant default
variant zero_shot_init --max_train_steps 0
variant noise0 --condition_noise 0
variant noise1 --condition_noise 1.0
variant steps1000 --max_train_steps 1000
variant steps6000 --max_train_steps 6000
python research/render_ablations.py
