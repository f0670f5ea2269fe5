"""Crash-safe training checkpoints for ``accelerate`` runs (``checkpoint-<step>`` folders, as diffusers' scripts).

A checkpoint is written by ``Accelerator.save_state`` into ``.tmp-checkpoint-<step>``, marked complete, and renamed to
``checkpoint-<step>`` in one step; only then are old checkpoints pruned. A kill at any moment therefore leaves every
``checkpoint-<step>`` folder complete, and ``--resume_from_checkpoint latest`` resumes from the newest one.
"""

import json
import logging
import os
import re
import shutil

from ..fileio import remove_temp_debris

logger = logging.getLogger(__name__)

COMPLETE_MARKER = "text2lora_checkpoint.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")
_TEMP_PREFIX = ".tmp-checkpoint-"


def checkpoint_step(path):
    """The step of a ``checkpoint-<step>`` folder."""
    match = _NAME.match(os.path.basename(os.path.normpath(path)))
    if match is None:
        raise ValueError(f"'{path}' is not a checkpoint-<step> folder.")
    return int(match.group(1))


def is_complete(path):
    """True when ``path`` is a checkpoint folder whose save finished (it holds the completion marker)."""
    return os.path.isfile(os.path.join(path, COMPLETE_MARKER))


def list_checkpoints(output_dir, complete_only=True):
    """``checkpoint-<step>`` folders in ``output_dir``, oldest first (by default only complete ones)."""
    if not os.path.isdir(output_dir):
        return []
    found = [name for name in os.listdir(output_dir) if _NAME.match(name)
             and os.path.isdir(os.path.join(output_dir, name))]
    found.sort(key=lambda name: int(_NAME.match(name).group(1)))
    paths = [os.path.join(output_dir, name) for name in found]
    return [p for p in paths if is_complete(p)] if complete_only else paths


def latest_checkpoint(output_dir):
    """The newest complete checkpoint in ``output_dir``, or ``None``; incomplete ones are skipped with a warning."""
    for path in reversed(list_checkpoints(output_dir, complete_only=False)):
        if is_complete(path):
            return path
        logger.warning("Skipping %s: it is incomplete (a save was interrupted, or an older text2lora wrote it without "
                       "a completion marker). Pass it to --resume_from_checkpoint explicitly to use it anyway.", path)
    return None


def remove_interrupted_saves(output_dir):
    """Remove the temporary folders of interrupted checkpoint saves (``.tmp-checkpoint-*``, text2lora's own)."""
    return remove_temp_debris(output_dir, prefix=_TEMP_PREFIX)


def save_checkpoint(accelerator, output_dir, step, total_limit=None):
    """Save the training state as ``output_dir/checkpoint-<step>``, atomically; then keep at most ``total_limit``
    complete checkpoints (the newest). Call it on every process, as ``Accelerator.save_state``."""
    tmp = os.path.join(output_dir, f"{_TEMP_PREFIX}{step}")
    final = os.path.join(output_dir, f"checkpoint-{step}")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(tmp)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with open(os.path.join(tmp, COMPLETE_MARKER), "w") as f:
            json.dump({"step": step}, f)
        if os.path.isdir(final):  # a checkpoint of this step from an earlier run: replace it only now
            aside = f"{tmp}.old"
            os.replace(final, aside)
            os.replace(tmp, final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(tmp, final)
        if total_limit is not None and total_limit > 0:
            for old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old)
        logger.info("Saved state to %s", final)
    accelerator.wait_for_everyone()
    return final


def register_checkpoint_hooks(accelerator, ema):
    """Save/load hooks of a ``LoraDenoiser`` run, as in diffusers' training scripts: ``save_state`` writes the model in
    diffusers format (``denoiser/``) plus the EMA weights (``denoiser_ema/``, when ``ema`` is given); ``load_state``
    reads them back."""
    from diffusers.training_utils import EMAModel

    from ..models import LoraDenoiser

    def save_model_hook(models, weights, output_dir):
        if accelerator.is_main_process:
            if ema is not None:
                ema.save_pretrained(os.path.join(output_dir, "denoiser_ema"))
            for model in models:
                accelerator.unwrap_model(model).save_pretrained(os.path.join(output_dir, "denoiser"))
                weights.pop()

    def load_model_hook(models, input_dir):
        if ema is not None:
            loaded = EMAModel.from_pretrained(os.path.join(input_dir, "denoiser_ema"), LoraDenoiser)
            ema.load_state_dict(loaded.state_dict())
            del loaded
        for _ in range(len(models)):
            model = models.pop()
            loaded = LoraDenoiser.from_pretrained(input_dir, subfolder="denoiser")
            model.register_to_config(**loaded.config)
            model.load_state_dict(loaded.state_dict())
            del loaded

    accelerator.register_save_state_pre_hook(save_model_hook)
    accelerator.register_load_state_pre_hook(load_model_hook)
