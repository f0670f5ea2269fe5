#!/usr/bin/env bash
# One prepared GPU session: bench_generation (bf16 autocast, batch 64), bench_training and bench_scale on CUDA.
#
#   bash benchmarks/gpu_run.sh            # JSON into $OUT if set, else benchmarks/results/
#
# Knobs (environment): GENERATOR (default text2lora/data/generator), ZOO (default zoos/minilm-default),
# REPEATS (default 5), STEP_TIMEOUT (seconds per benchmark, default 240). A missing generator skips
# bench_generation; a missing zoo makes bench_training use the synthetic layout. Each benchmark runs under its own
# timeout and a failing one does not stop the others; the exit status is 1 if any failed. Afterwards copy the
# *_cuda.json files into benchmarks/results/ and run `python benchmarks/write_benchmarks_md.py`.
set -uo pipefail
cd "$(dirname "$0")/.."

RESULTS="${OUT:-benchmarks/results}"
GENERATOR="${GENERATOR:-text2lora/data/generator}"
ZOO="${ZOO:-zoos/minilm-default}"
REPEATS="${REPEATS:-5}"
STEP_TIMEOUT="${STEP_TIMEOUT:-240}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # import text2lora from this tree even if not installed
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$RESULTS"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$RESULTS/gpu_info.csv" 2>&1 || true
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: torch sees no CUDA device; nothing was run." >&2
    exit 2
fi

status=0
run() {
    local name=$1
    shift
    echo "== $name: $*"
    local start=$SECONDS
    if ! timeout "$STEP_TIMEOUT" "$@" 2>&1 | tee "$RESULTS/$name.log"; then
        echo "!! $name failed or timed out (see $RESULTS/$name.log)"
        status=1
    fi
    echo "== $name took $((SECONDS - start)) s"
}

if [ -f "$GENERATOR/model_index.json" ]; then
    zoo_args=()
    [ -f "$ZOO/index.jsonl" ] && zoo_args=(--zoo "$ZOO")
    run generation_cuda python benchmarks/bench_generation.py --device cuda --dtype bf16 --batch 64 \
        --steps 10 25 50 --generator "$GENERATOR" ${zoo_args[@]+"${zoo_args[@]}"} --repeats "$REPEATS" \
        --output "$RESULTS/generation_cuda.json"
else
    echo "!! skipping bench_generation: no generator at $GENERATOR"
fi

train_args=()
[ -f "$ZOO/index.jsonl" ] && train_args=(--zoo "$ZOO")
run training_cuda python benchmarks/bench_training.py --device cuda ${train_args[@]+"${train_args[@]}"} --train_steps 20 \
    --repeats "$REPEATS" --output "$RESULTS/training_cuda.json"

run scale_cuda python benchmarks/bench_scale.py --device cuda --sizes 75k 460k 3.4m 4.2m --repeats "$REPEATS" \
    --budget_s 150 --output "$RESULTS/scale_cuda.json"

exit $status
