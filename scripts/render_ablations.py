"""Render reports/ablations/README.md from the ablation JSON files beside it (no number is typed by hand).

    python scripts/render_ablations.py
"""

import argparse
import glob
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _unseen_val(runs, name):
    """The unseen val accuracy of the quick val check named ``name``, formatted ("?" when it is missing)."""
    found = [d["summary"]["unseen_generated_mean"] for d in runs if d["name"] == name]
    return f"{found[0]:.3f}" if found else "?"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", default=os.path.join(ROOT, "reports", "ablations"))
    args = p.parse_args(argv)
    lines = ["# Generator ablations", "",
             "Rendered by `python scripts/render_ablations.py` from the JSON files in this folder.", ""]

    probes = [json.load(open(f))["summary"] for f in sorted(glob.glob(os.path.join(args.folder, "head_probe_*.json")))]
    if probes:
        lines += ["## Sessions 4-6: head probe on unseen tasks (direction vs bias vs features)", "",
                  "Each row: `python scripts/head_probe.py` with the settings shown (the shipped training loop on "
                  "cached frozen-base features; unseen tasks, 3 held-out descriptions). `head (val)`: the generated "
                  "head on the unseen tasks' val split (session 6 on; the column to select on); every other column "
                  "is on the test split: `head`: the generated head; `head, val threshold`: its direction with the "
                  "threshold tuned on the task's labelled val rows; "
                  "`zero-shot`: evaluate.py's val-tuned cosine baseline; `zero-shot, projected`: the same on the "
                  "projected features the head reads; `label-free`: one cosine threshold from the seen tasks. "
                  "Training tasks: the suite's seen tasks, or those plus the auxiliary tasks (`--auxiliary_tasks`). "
                  "Feature LoRA: the generator whose shared feature LoRA (`train_head.py --feature_lora_steps`) the "
                  "features are computed with (`--feature_lora`). Test-split columns are a diagnosis, not a "
                  "selection tool.", "",
                  "| run | training tasks | features | feature LoRA | steps | noise | seed | head (val) | head | "
                  "head, val threshold | zero-shot | zero-shot, projected | zero-shot, label-free |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for d in sorted(probes, key=lambda d: d["head"]):
            c = d["settings"]
            tasks = "seen + auxiliary" if c.get("auxiliary_tasks") else "seen"
            lora = os.path.basename(os.path.normpath(c["feature_lora"])) if c.get("feature_lora") else "-"
            on_val = f"{d['head_on_val']:.3f}" if "head_on_val" in d else "-"
            lines.append(f"| {d['name']} | {tasks} | {c['features']} | {lora} | {c['max_train_steps']} | "
                         f"{c['condition_noise']} | {c['seed']} | {on_val} | "
                         f"{d['head']:.3f} | {d['head_val_threshold']:.3f} | {d['zero_shot']:.3f} | "
                         f"{d['zero_shot_projected']:.3f} | {d['zero_shot_label_free']:.3f} |")
        lines.append("")
    every = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(args.folder, "quick_val_*.json")))]
    quick = [d for d in every if d["summary"].get("method", "diffusion") == "diffusion"]
    heads = [d for d in every if d["summary"].get("method") == "hypernetwork"]
    if heads:
        lines += ["## Sessions 3, 5 and 6: the head generator (`method=\"hypernetwork\"`)", "",
                  "Each row: a head generator added by `train_head.py` as given, checked with "
                  "`scripts/quick_val_check.py --method hypernetwork` (same tasks, descriptions and capped val rows as "
                  "the diffusion rows below). Session 5 shipped `head_auxiliary_6000`: on this val check it ties "
                  "`head_steps6000` (within the check's noise), and the test-split probe above, a diagnosis run on "
                  "the same unseen tasks that evaluate.py reports, shows the auxiliary tasks ahead at every step "
                  "count and seed, which decided it. Session 6 shipped `head_feature_lora_800` (a shared feature "
                  f"LoRA, `--feature_lora_steps 800`): {_unseen_val(heads, 'head_feature_lora_800')} here against "
                  f"{_unseen_val(heads, 'head_auxiliary_6000')} for session 5's head, and ahead on the unseen val "
                  "split of the probe above (`head (val)`).", "",
                  "| run | training | seen median ratio | seen generated | unseen generated (val) | "
                  "unseen fine-tuned (val) |", "|---|---|---|---|---|---|"]
        for d in sorted(heads, key=lambda d: d["summary"]["unseen_generated_mean"]):
            s = d["summary"]
            lines.append(f"| {d['name']} | {d['training']} | {s['seen_median_ratio']:.3f} | "
                         f"{s['seen_generated_mean']:.3f} | {s['unseen_generated_mean']:.3f} | "
                         f"{s['unseen_fine_tuned_mean']:.3f} |")
        lines.append("")
    if quick:
        lines += ["## Session 2: description augmentation and condition augmentation", "",
                  "Each row: a generator trained as given, checked with `scripts/quick_val_check.py` (every 5th seen "
                  "task, its 3 held-out descriptions, val split capped at 32+32 rows; unseen tasks: first held-out "
                  "description). Ratio = generated / fine-tuned val accuracy per task.", "",
                  "| run | training | seen tasks | median ratio | mean ratio | seen generated | seen fine-tuned "
                  "| unseen generated (val) |", "|---|---|---|---|---|---|---|---|"]
        for d in sorted(quick, key=lambda d: d["summary"]["seen_median_ratio"]):
            s = d["summary"]
            lines.append(f"| {d['name']} | {d['training']} | {s['seen_tasks']} | {s['seen_median_ratio']:.3f} | "
                         f"{s['seen_mean_ratio']:.3f} | {s['seen_generated_mean']:.3f} | "
                         f"{s['seen_fine_tuned_mean']:.3f} | {s['unseen_generated_mean']:.3f} |")
        lines += ["", quick[0].get("note", ""), ""]

    for name in ("generator_partial_zoo.json", "generator_full_zoo.json"):
        path = os.path.join(args.folder, name)
        if not os.path.exists(path):
            continue
        doc = json.load(open(path))
        runs = doc.get("runs", {k: v for k, v in doc.items() if isinstance(v, dict)})
        lines += [f"## Session 1: `{name}`", "", doc.get("note", "Median generated / fine-tuned val ratio over "
                  "train.py's validation tasks (first held-out description each)."), "",
                  "| run | median ratio |", "|---|---|"]
        lines += [f"| {run} | {r['median_ratio']:.3f} |" for run, r in runs.items() if "median_ratio" in r]
        lines.append("")
    out = os.path.join(args.folder, "README.md")
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(out + ".tmp", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
