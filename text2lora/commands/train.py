"""Train a text2lora generator: a diffusion model over the LoRA weights of a zoo, conditioned on descriptions.

    python train.py --zoo zoos/minilm-default --output_dir generator-run
    accelerate launch train.py --zoo zoos/minilm-default --output_dir generator-run --use_ema --snr_gamma 5

It follows diffusers' example training scripts: an ``Accelerator``, DDPMScheduler noise, Min-SNR weighting through
``compute_snr``, ``EMAModel``, ``save_state`` checkpoints with a total limit, and ``--resume_from_checkpoint latest``.
Only the zoo's seen tasks are used for training. The result is a ``Text2LoraPipeline`` in ``--output_dir``.
"""

import logging

from ..cli import parse_dataclasses, run_cli
from ..training.denoiser_training import DenoiserTrainingArguments, train_denoiser


def parse_args(argv=None):
    """The :class:`DenoiserTrainingArguments` of ``argv`` (default: ``sys.argv[1:]``)."""
    (args,) = parse_dataclasses(DenoiserTrainingArguments, argv, description=__doc__)
    return args


def main(argv=None):
    """Train a generator as the flags say; returns its output folder."""
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    return train_denoiser(args)


def run():
    """The ``text2lora-train`` console script."""
    run_cli(main)
