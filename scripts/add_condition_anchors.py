"""Add condition anchors to a text generator trained before ``train.py`` wrote them.

The anchors are the ones ``train.py`` now writes at the end of training (``build_training_data`` and
``condition_anchors`` of ``text2lora.training.denoiser_training``, with the training arguments recorded in
``training_info.json``), so the generator ends up as if it had been trained by the current ``train.py``. Only
``denoiser/`` is rewritten (atomically, in its stored dtype); its weights are unchanged.

    PYTHONPATH=. python scripts/add_condition_anchors.py --generator text2lora/data/generator
"""

import argparse
import json
import os
import sys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", required=True, help="Generator directory (written by train.py).")
    p.add_argument("--zoo", default=None, help="Zoo directory (default: the one in training_info.json).")
    args = p.parse_args(argv)

    from safetensors import safe_open

    from text2lora.data.zoo import Zoo
    from text2lora.fileio import atomic_directory
    from text2lora.models import LoraDenoiser
    from text2lora.training.denoiser_training import build_training_data, condition_anchors

    info_path = os.path.join(args.generator, "training_info.json")
    if not os.path.isfile(info_path) or not os.path.isdir(os.path.join(args.generator, "denoiser")):
        raise ValueError(f"{args.generator} is not a generator written by train.py (no training_info.json or "
                         "denoiser/).")
    with open(info_path) as f:
        info = json.load(f)
    train_args = argparse.Namespace(**info["training_args"])
    if train_args.condition_type != "text":
        raise ValueError("Condition anchors need a text-conditioned generator.")
    zoo, tasks, _, conditions = build_training_data(Zoo.load(args.zoo or train_args.zoo), train_args,
                                                    train_args.embedder)
    if tasks != info["train_tasks"]:
        raise ValueError("The zoo's training tasks differ from the ones the generator was trained on.")
    denoiser_dir = os.path.join(args.generator, "denoiser")
    with safe_open(os.path.join(denoiser_dir, "diffusion_pytorch_model.safetensors"), "pt") as f:
        dtype = f.get_tensor(next(iter(f.keys()))).dtype  # the stored dtype (fp16 for the shipped generator)
    denoiser = LoraDenoiser.from_pretrained(denoiser_dir, torch_dtype=dtype)
    denoiser.set_condition_anchors(*condition_anchors(zoo, tasks, conditions))
    with atomic_directory(denoiser_dir, prefix=".tmp-denoiser-", replace=True) as tmp:
        denoiser.save_pretrained(tmp)
        config_path = os.path.join(tmp, "config.json")
        with open(config_path) as f:
            config = json.load(f)
        config.pop("_name_or_path", None)  # a loaded model records its source path; train.py's output has none
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
    print(f"wrote {len(tasks)} condition anchors to {denoiser_dir}")


if __name__ == "__main__":
    try:
        main()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
