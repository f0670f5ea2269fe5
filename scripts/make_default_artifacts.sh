#!/usr/bin/env bash
# Rebuild every committed artifact, in order, on this 2-core CPU (numbers in the reports come from these runs).
#   1. the task suite        (needs ../shared/data/raw; a few seconds)
#   2. the default zoo       (230 tasks; about an hour on 2 cores, resumable)
#   3. the shipped generator (denoiser: about 8 minutes; head generator: about 22)
#   4. the evaluation report (about two hours)
#   5. the benchmarks        (minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
python scripts/build_task_suite.py --raw ../shared/data/raw
accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --num_cpu_threads_per_process 1 \
  --mixed_precision no --dynamo_backend no collect.py --output_dir runs/zoo-default --no_progress
python collect.py --output_dir runs/zoo-default --pack zoos/minilm-default --no_progress
python train.py --zoo zoos/minilm-default --output_dir text2lora/data/generator --use_ema --save_fp16
python train_head.py --generator text2lora/data/generator --zoo zoos/minilm-default --auxiliary_tasks \
  --max_train_steps 6000 --feature_lora_steps 800 --save_fp16
python evaluate.py --output_dir reports --update_card
for b in generation speedup training scale; do python benchmarks/bench_$b.py; done
python benchmarks/write_benchmarks_md.py
