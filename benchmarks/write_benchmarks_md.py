"""Render BENCHMARKS.md from the result JSON files.

    python benchmarks/write_benchmarks_md.py

Every number in the page comes from benchmarks/results/*.json (the tables each benchmark script stored next to its
raw measurements); nothing is typed by hand. For each result: the exact command that produced it, the machine, its
tables (median and min–max, ratios) and notes. A "GPU" section lists the CUDA runs, or says that none is recorded.
"""

import argparse
import glob
import json
import os
import sys

from _common import REPO_ROOT, RESULTS_DIR, run_main

ORDER = ["generation", "cold_start", "speedup", "training", "scale"]
TITLES = {
    "generation": "Generation latency: text to adapter on disk",
    "cold_start": "Cold start: python generate.py in a fresh process",
    "speedup": "Generation vs fine-tuning to the same accuracy",
    "training": "Generator training and zoo collection throughput",
    "scale": "Scaling with the adapter size (raw-token denoiser)",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", default=str(RESULTS_DIR), help="Folder of result JSON files.")
    p.add_argument("--output", default=str(REPO_ROOT / "BENCHMARKS.md"))
    return p.parse_args(argv)


def load_results(folder):
    docs = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, json.JSONDecodeError) as err:
            print(f"warning: skipping {path}: {err}", file=sys.stderr)
            continue
        if not isinstance(doc, dict) or "benchmark" not in doc or "tables" not in doc:
            print(f"warning: skipping {path}: not a benchmark result", file=sys.stderr)
            continue
        doc["_file"] = os.path.relpath(path, REPO_ROOT) if path.startswith(str(REPO_ROOT)) else path
        docs.append(doc)

    def key(d):
        name = d["benchmark"]
        return (ORDER.index(name) if name in ORDER else len(ORDER), name, is_gpu(d), d["_file"])

    return sorted(docs, key=key)


def is_gpu(doc):
    return str(doc.get("machine", {}).get("device", "")).startswith("cuda")


def cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(t):
    lines = [f"**{cell(t['title'])}**", "", "| " + " | ".join(cell(c) for c in t["columns"]) + " |",
             "|" + "|".join("---" for _ in t["columns"]) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in t["rows"]]
    if t.get("notes"):
        lines.append("")
        lines += [f"- {cell(n)}" for n in t["notes"]]
    return lines


def machine_line(m):
    device = m.get("device", "?")
    if device == "cuda" and m.get("gpu"):
        device = f"cuda ({m['gpu']})"
    parts = [f"device {device}", f"dtype {m.get('dtype', 'fp32')}",
             f"{m.get('cpu_count')} CPUs (affinity {m.get('cpu_affinity')}, torch threads {m.get('torch_threads')})",
             f"{m.get('memory_gb')} GB RAM", f"load average at start {m.get('load_avg_1m_at_start')}",
             f"{m.get('platform')}", f"Python {m.get('python')}", f"torch {m.get('torch')}",
             f"diffusers {m.get('diffusers')}", f"peft {m.get('peft')}", f"transformers {m.get('transformers')}",
             f"commit {m.get('git_commit')}", f"run {m.get('date_utc')} UTC"]
    return "; ".join(parts)


def _median(x):
    return x.get("median") if isinstance(x, dict) else x


def targets(docs):
    """Rows (target, measured, verdict) computed from the result files; a missing file reads 'not measured'."""
    by = {}
    for d in docs:
        by.setdefault((d["benchmark"], is_gpu(d)), d)
    rows = []
    gen = by.get(("generation", False))
    single = None
    if gen:
        single = next((r for r in gen["results"].get("latency", []) if r.get("num_adapters") == 1
                       and r.get("steps") == 25), None)
    if single:
        total = sum(_median(single[k]) for k in ("embed_s", "sample_s", "write_s"))
        rows.append(["text -> written adapter <= 1 s (CPU, shipped generator, 25 steps, warm)", f"{total:.3f} s",
                     "met" if total <= 1.0 else f"missed by {total - 1.0:.3f} s"])
    else:
        rows.append(["text -> written adapter <= 1 s (CPU)", "not measured", "-"])
    cold = by.get(("cold_start", False))
    if cold:
        results = cold["results"]
        name = next(k for k in results["cold"] if k.startswith("generate ("))
        seconds = results["cold"][name]["seconds"]["median"]
        ratio = results["cold"][name]["ratio_of_medians"]
        torch_s = results["cold"]["import torch"]["seconds"]["median"]
        rows.append(["cold `python generate.py` <= 3 s (CPU, fresh process)",
                     f"{seconds:.2f} s = {ratio:.2f}x `import torch` ({torch_s:.2f} s, same rounds)",
                     "met" if seconds <= 3.0 else f"missed by {seconds - 3.0:.2f} s"])
        warm = next(iter(results["warm"].values()))["later_calls_s"]["median"]
        rows.append(["warm text -> written adapter <= 0.5 s (CPU, one process, second and later calls)",
                     f"{warm:.3f} s", "met" if warm <= 0.5 else f"missed by {warm - 0.5:.3f} s"])
    else:
        rows.append(["cold `python generate.py` <= 3 s (CPU)", "not measured", "-"])
    speed = by.get(("speedup", False))
    ratio = speed["results"]["summary"].get("median_ratio_reached") if speed else None
    if ratio is not None:
        rows.append([">= 40x faster than fine-tuning to the same accuracy (CPU)", f"{ratio:.1f}x (median over tasks)",
                     "met" if ratio >= 40 else f"missed: {ratio / 40:.2f} of the target"])
    else:
        rows.append([">= 40x faster than fine-tuning (CPU)", "not measured", "-"])
    gpu_gen = by.get(("generation", True))
    batched = None
    if gpu_gen:
        rates = [r["num_adapters"] / sum(_median(r[k]) for k in ("embed_s", "sample_s", "write_s"))
                 for r in gpu_gen["results"].get("latency", [])
                 if r.get("num_adapters", 1) > 1 and r.get("method", "diffusion") == "diffusion"]
        batched = max(rates) if rates else None
    rows.append([">= 100 adapters/s batched on an H100 (MiniLM layout)",
                 f"{batched:.1f} adapters/s" if batched else "not measured (no GPU session)",
                 "-" if batched is None else ("met" if batched >= 100 else f"missed: {batched / 100:.2f} of it")])
    scale = by.get(("scale", False))
    sizes = scale["results"].get("sizes", []) if scale else []
    if len(sizes) > 1:
        last = sizes[-1]["ratios"]
        per_param = {k: last[k] / last["params"] for k in ("train_memory", "sample_memory")}
        rows.append([f"memory linear in adapter size up to {sizes[-1]['size']} (raw-token denoiser, CPU)",
                     f"x{last['params']:.1f} params: train memory x{last['train_memory']:.1f}, sample memory "
                     f"x{last['sample_memory']:.1f}",
                     "; ".join(f"missed: {k.replace('_', ' ')} grows {v:.1f}x faster than the parameters"
                               for k, v in per_param.items() if v > 1.5) or "met"])
    else:
        rows.append(["memory linear in adapter size", "not measured", "-"])
    return rows


def render(docs):
    lines = ["# Benchmarks", "",
             "Generated by `python benchmarks/write_benchmarks_md.py` from `benchmarks/results/*.json`; do not edit by "
             "hand. Each section gives the command that produced it; rerun it and this script to refresh the page. "
             "Times are wall-clock seconds (`time.perf_counter`), median (min–max) over the repeats of the command. "
             "See `benchmarks/README.md` for how to run everything.", ""]
    if not docs:
        lines += ["No results are recorded yet: run the scripts in `benchmarks/` first.", ""]
    else:
        lines += ["## Targets", "", "Computed from the result files below.", ""]
        lines += md_table({"title": "Issue targets", "columns": ["target", "measured", "verdict"],
                           "rows": targets(docs)}) + [""]
    for doc in docs:
        name = doc["benchmark"]
        machine = doc.get("machine", {})
        dtype = machine.get("dtype", "fp32")
        tag = machine.get("device", "?") + ("" if dtype in (None, "fp32") else f", {dtype}")
        lines += [f"## {TITLES.get(name, name)} ({tag})", "",
                  f"Source: `{doc['_file']}`", "", "```bash", doc.get("command", "(command not recorded)"), "```", "",
                  f"Machine: {machine_line(machine)}.", ""]
        if doc.get("wall_seconds") is not None:
            lines += [f"The whole command ran {doc['wall_seconds']:.0f} s.", ""]
        for t in doc["tables"]:
            lines += md_table(t) + [""]
        for n in doc.get("notes", []):
            lines.append(f"- {cell(n)}")
        if doc.get("notes"):
            lines.append("")
    gpu = [d for d in docs if is_gpu(d)]
    lines += ["## GPU", ""]
    if not gpu:
        lines += ["No GPU run is recorded: no result file has device `cuda`, so every number above was measured on "
                  "CPU. `benchmarks/gpu_run.sh` is the prepared script for a GPU session.", ""]
    else:
        lines += ["Results measured on a GPU (their sections are above):", ""]
        for d in gpu:
            lines.append(f"- {TITLES.get(d['benchmark'], d['benchmark'])}: `{d['_file']}` on "
                         f"{d['machine'].get('gpu') or 'cuda'}, dtype {d['machine'].get('dtype', 'fp32')}")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    docs = load_results(args.results)
    text = render(docs)
    out = os.path.abspath(args.output)
    tmp = f"{out}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, out)
    print(f"wrote {out} from {len(docs)} result file(s)")


if __name__ == "__main__":
    run_main(main)
