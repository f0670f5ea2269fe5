"""Render reports/ablations/README.md from the ablation JSON files beside it (no number is typed by hand).

    python research/render_ablations.py
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


def _quick_rows(runs, columns, sort_key):
    """Table rows of quick val checks: name, training, then the given summary columns (floats to 3 digits)."""
    rows = []
    for d in sorted(runs, key=lambda d: d["summary"][sort_key]):
        values = [d["summary"][c] for c in columns]
        cells = [d["name"], d["training"], *(f"{v:.3f}" if isinstance(v, float) else str(v) for v in values)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _session9(folder):
    """Session 9: head-generator conditioning variants, description expansion and routing (unseen tasks)."""
    lines = []
    variants = [json.load(open(f))["summary"] for f in sorted(glob.glob(os.path.join(folder, "head_variant_*.json")))]
    if variants:
        lines += ["## Session 9: unseen tasks: head conditioning variants, description expansion, routing", "",
                  "Head variants: `PYTHONPATH=. python research/head_variant_probe.py --variant NAME` (the shipped "
                  "head's training, seen + auxiliary tasks, 6000 steps, on the probe's cached features with the "
                  "session-6 feature LoRA; the module docstring describes each variant). `head (val)`: unseen tasks' "
                  "val split, the column to select on; `head` and `head, val threshold`: test split, a diagnosis; "
                  "`seen (val)`: the seen tasks' capped val rows from 2 held-out descriptions. Seeds of the same "
                  "head move `head` by about 0.002 (Sessions 4-6 below), so no variant beats `linear` by more than "
                  "noise; none was shipped.", "",
                  "| variant | head (val) | head | head, val threshold | seen (val) | learned |",
                  "|---|---|---|---|---|---|"]
        for d in sorted(variants, key=lambda d: d["head_on_val"]):
            shown = {"contrast": ("beta", "temperature"), "memory": ("beta", "temperature"),
                     "standardized": ("alpha",)}.get(d["name"], ())
            learned = ", ".join(f"{k} {d['learned'][k]:.2f}" for k in shown) or "-"
            lines.append(f"| {d['name']} | {d['head_on_val']:.3f} | {d['head']:.3f} | {d['head_val_threshold']:.3f} "
                         f"| {d['seen_head_on_val']:.3f} | {learned} |")
        lines.append("")
    expansion = os.path.join(folder, "expansion_probe.json")
    if os.path.exists(expansion):
        e = json.load(open(expansion))["summary"]
        lines += ["Description expansion: `PYTHONPATH=. python research/expansion_probe.py` (zero-shot cosine of each "
                  "unseen task's 3 held-out descriptions, rewritten as named; `val AUC`: ROC AUC on the val split, the "
                  "column to select on; `test, val threshold`: evaluate.py's zero-shot protocol on the test split).",
                  "", "| expansion | val AUC | test, val threshold |", "|---|---|---|"]
        for name, v in sorted(e["expansions"].items(), key=lambda kv: -kv[1]["val_auc"]):
            lines.append(f"| {name} | {v['val_auc']:.3f} | {v['test_val_threshold']:.3f} |")
        lines += ["", "The example texts SmolLM2-135M writes are mostly off-topic (a sample is stored in the JSON, "
                  "`sample_examples`).", ""]
    routing = os.path.join(folder, "routing_tradeoff.json")
    if os.path.exists(routing):
        r = json.load(open(routing))["summary"]
        lines += ["Routing: `PYTHONPATH=. python research/routing_tradeoff.py` (per-description test scores from "
                  f"`{r['report']}`; diffusion when the nearest-anchor cosine is at least the threshold, the head "
                  f"otherwise; a diagnosis, no threshold is selected). Zero-shot on unseen tasks: "
                  f"{r['zero_shot_unseen_mean']:.3f}.", "",
                  "| threshold | seen median ratio | unseen mean | seen to diffusion | unseen to diffusion |",
                  "|---|---|---|---|---|"]
        for t in r["thresholds"]:
            lines.append(f"| {t['threshold']:.2f} | {t['seen_median_ratio']:.3f} | {t['unseen_mean']:.3f} | "
                         f"{t['seen_to_diffusion']:.2f} | {t['unseen_to_diffusion']:.2f} |")
        cos = r["nearest_anchor_cosine"]
        lines += ["", "Nearest-anchor cosine (5th / 50th / 95th percentile): "
                  + "; ".join(f"{k.replace('_', ' ')} {v['p5']:.2f} / {v['p50']:.2f} / {v['p95']:.2f}"
                              for k, v in cos.items()) + ".", ""]
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", default=os.path.join(ROOT, "reports", "ablations"))
    args = p.parse_args(argv)
    lines = ["# Generator ablations", "",
             "Rendered by `python research/render_ablations.py` from the JSON files in this folder.", ""]

    lines += _session9(args.folder)
    fidelity = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(args.folder, "snap_fidelity_*.json")))]
    if fidelity:
        lines += ["## Session 8: denoiser fidelity at the condition anchors", "",
                  "With snapping, a seen task's adapter is generated from its anchor. Each row: a generator trained as "
                  "given, checked with `PYTHONPATH=. python research/snap_fidelity.py` (every seen task, its 2 "
                  "held-out descriptions snapped as in evaluate.py, val split capped per label; ratio = generated / "
                  "fine-tuned val accuracy). `anchor` columns: the adapter generated from the task's own anchor, so "
                  "description matching plays no part.", "",
                  "| run | training | tasks | median ratio | mean ratio | tasks >= 0.99 | anchor median | anchor mean "
                  "| anchor tasks >= 0.99 |", "|---|---|---|---|---|---|---|---|---|"]
        lines += _quick_rows(fidelity, ["tasks", "median_ratio", "mean_ratio", "tasks_at_0.99", "anchor_median_ratio",
                                        "anchor_mean_ratio", "anchor_tasks_at_0.99"], "anchor_mean_ratio")
        lines.append("")
    roundtrip = os.path.join(args.folder, "latent_roundtrip.json")
    if os.path.exists(roundtrip):
        r = json.load(open(roundtrip))["summary"]
        lines += [f"Latent cap (a diagnosis on the test split, `research/latent_roundtrip.py`): each of {r['tasks']} "
                  f"seen zoo adapters passed through the denoiser's latent (PCA, latent_dim {r['latent_dim']}) and "
                  f"back keeps a median {r['median_ratio_roundtrip']:.3f} of its test accuracy; "
                  f"{r['tasks_roundtrip_below_0.99']} tasks fall below 0.99: on those, the closest point of the latent "
                  "to the fine-tuned adapter already loses accuracy (a generated adapter can still land elsewhere and "
                  "score higher, but not by reproducing the fine-tuned one).", ""]
    probes = [json.load(open(f))["summary"] for f in sorted(glob.glob(os.path.join(args.folder, "head_probe_*.json")))]
    if probes:
        lines += ["## Sessions 4-6: head probe on unseen tasks (direction vs bias vs features)", "",
                  "Each row: `python research/head_probe.py` with the settings shown (the shipped training loop on "
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
    quick = [d for d in every if d["summary"].get("method", "diffusion") == "diffusion" and "snap" not in d["summary"]]
    snap = [d for d in every if d["summary"].get("method", "diffusion") == "diffusion" and "snap" in d["summary"]]
    matching = os.path.join(args.folder, "snap_matching.json")
    if os.path.exists(matching) or snap:
        lines += ["## Session 7: condition snapping (`snap_to_seen_tasks`)", "",
                  "The diffusion generator reproduces a seen task's adapter from a training description (question 2's "
                  "`ratio_train_description` in reports/evaluation.md) but often not from a paraphrase, which lands "
                  "between tasks. Snapping conditions "
                  "on the anchor of the seen task the description is closest to instead.", ""]
    if os.path.exists(matching):
        m = json.load(open(matching))
        s_ = m["summary"]
        lines += [f"Which task does a description find? `{m['command']}` ({s_['seen_tasks']} seen tasks, "
                  f"{s_['training_descriptions']} training descriptions). Selection column: cross-validation over "
                  "the training descriptions; held-out columns are a diagnosis (evaluate.py uses descriptions 0 and "
                  "1).", "",
                  "| matcher | CV, training descriptions | " + " | ".join(
                      f"held-out {k.split('_')[-1]}" for k in s_["heldout_accuracy"]) + " |",
                  "|---|---|" + "---|" * len(s_["heldout_accuracy"])]
        for key, label in (("nearest_description", "nearest training description"),
                           ("nearest_anchor", "nearest anchor (shipped)")):
            lines.append(f"| {label} | {s_['cv_accuracy'][key]:.3f} | " + " | ".join(
                f"{v[key]:.3f}" for v in s_["heldout_accuracy"].values()) + " |")
        lines.append("")
    if snap:
        lines += ["The shipped generator with and without snapping, `research/quick_val_check.py` (every 5th seen "
                  "task, its 3 held-out descriptions, capped val rows; `--no_snap` turns snapping off):", "",
                  "| run | generator | snap | seen median ratio | seen mean ratio | seen generated | "
                  "unseen generated (val) |", "|---|---|---|---|---|---|---|"]
        lines += _quick_rows(snap, ["snap", "seen_median_ratio", "seen_mean_ratio", "seen_generated_mean",
                                    "unseen_generated_mean"], "seen_median_ratio")
        lines.append("")
    heads = [d for d in every if d["summary"].get("method") == "hypernetwork"]
    if heads:
        lines += ["## Sessions 3, 5 and 6: the head generator (`method=\"hypernetwork\"`)", "",
                  "Each row: a head generator added by `train_head.py` as given, checked with "
                  "`research/quick_val_check.py --method hypernetwork` (same tasks, descriptions and capped val rows "
                  "as the diffusion rows below). Session 5 shipped `head_auxiliary_6000`: on this val check it ties "
                  "`head_steps6000` (within the check's noise), and the test-split probe above, a diagnosis run on "
                  "the same unseen tasks that evaluate.py reports, shows the auxiliary tasks ahead at every step "
                  "count and seed, which decided it. Session 6 shipped `head_feature_lora_800` (a shared feature "
                  f"LoRA, `--feature_lora_steps 800`): {_unseen_val(heads, 'head_feature_lora_800')} here against "
                  f"{_unseen_val(heads, 'head_auxiliary_6000')} for session 5's head, and ahead on the unseen val "
                  "split of the probe above (`head (val)`).", "",
                  "| run | training | seen median ratio | seen generated | unseen generated (val) | "
                  "unseen fine-tuned (val) |", "|---|---|---|---|---|---|"]
        lines += _quick_rows(heads, ["seen_median_ratio", "seen_generated_mean", "unseen_generated_mean",
                                     "unseen_fine_tuned_mean"], "unseen_generated_mean")
        lines.append("")
    if quick:
        lines += ["## Session 2: description augmentation and condition augmentation", "",
                  "Each row: a generator trained as given, checked with `research/quick_val_check.py` (every 5th seen "
                  "task, its 3 held-out descriptions, val split capped at 32+32 rows; unseen tasks: first held-out "
                  "description). Ratio = generated / fine-tuned val accuracy per task.", "",
                  "| run | training | seen tasks | median ratio | mean ratio | seen generated | seen fine-tuned "
                  "| unseen generated (val) |", "|---|---|---|---|---|---|---|---|"]
        lines += _quick_rows(quick, ["seen_tasks", "seen_median_ratio", "seen_mean_ratio", "seen_generated_mean",
                                     "seen_fine_tuned_mean", "unseen_generated_mean"], "seen_median_ratio")
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
