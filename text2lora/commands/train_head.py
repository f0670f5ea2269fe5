"""Add a task-loss head generator (HeadHypernetwork) to a trained text2lora generator.

    python train_head.py --generator text2lora/data/generator --zoo zoos/minilm-default --auxiliary_tasks \\
        --max_train_steps 6000 --feature_lora_steps 800

The base model stays frozen and the LoRA weights are the same for every task, so each text's classifier input is
computed once. With ``--feature_lora_steps N`` that shared LoRA is trained first, without labels, so that the
classifier's input predicts the embedder's sentence embedding (``train_feature_lora``); otherwise LoRA stays at zero.
The hypernetwork (description embedding -> classifier head, initialized at the zero-shot cosine classifier) is then
trained on the labelled rows of the generator's seen training tasks, and with ``--auxiliary_tasks`` on those of the
suite's auxiliary tasks too (labelled intents with no zoo adapter). The result is saved as the pipeline's
``head_generator`` component (in place, or in a copy under --output_dir) and used by
``generate.py --method hypernetwork``. About 22 minutes on the 2-core CPU for the default zoo with the auxiliary
tasks and 800 feature-LoRA steps (12 min LoRA, 8 min base features, 2 min head).
"""

import logging
import os

from ..cli import check_device, parse_dataclasses, run_cli
from ..training.head_generator import HeadTrainingArguments, train_head_generator


def parse_args(argv=None):
    """The :class:`HeadTrainingArguments` of ``argv`` (default: ``sys.argv[1:]``)."""
    (args,) = parse_dataclasses(HeadTrainingArguments, argv, description=__doc__)
    return args


def main(argv=None):
    """Train and save the head generator the flags describe; print its validation; returns the training info."""
    args = parse_args(argv)
    check_device(args.device)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    info = train_head_generator(args)
    for part in ("seen", "unseen"):
        result = info["validation"][part]
        if result is not None:
            print(f"validation ({part} tasks: {result['tasks']}, held-out descriptions, val rows): mean balanced "
                  f"accuracy {result['mean_balanced_accuracy']:.3f}")
    print(f"wrote {os.path.join(args.output_dir or args.generator, 'head_generator')} ({info['seconds']:.0f} s)")
    return info


def run():
    """The ``text2lora-train-head`` console script."""
    run_cli(main)
