#!/usr/bin/env bash
# Rebuild every committed artifact, in order, on this 2-core CPU (numbers in the reports come from these runs).
#   1. the task suite        (needs ../shared/data/raw; a few seconds)
#   2. the default zoo       (230 tasks; about an hour on 2 cores, resumable)
#   3. the shipped generator (minutes)
#   4. the evaluation report (about half an hour)
#   5. the benchmarks        (minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
python scripts/build_task_suite.py --raw ../shared/data/raw
accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --num_cpu_threads_per_process 1 \
  --mixed_precision no --dynamo_backend no collect.py --output_dir runs/zoo-default --no_progress
python collect.py --output_dir runs/zoo-default --pack zoos/minilm-default --no_progress
python train.py --zoo zoos/minilm-default --output_dir text2lora/data/generator --use_ema --save_fp16
python evaluate.py --output_dir reports
for b in generation speedup training scale; do python benchmarks/bench_$b.py; done
python benchmarks/write_benchmarks_md.py
