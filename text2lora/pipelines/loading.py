"""Loading a generator folder or Hub id with one clear error for anything else."""

import json
import os

from .pipeline_text2lora import SHIPPED_GENERATOR, Text2LoraPipeline

SCHEDULERS = ("ddim", "dpm", "ddpm")


def read_model_index(folder):
    """(path, contents) of a generator folder's ``model_index.json``; ``ValueError`` when the folder is not a
    text2lora generator."""
    path = os.path.join(os.fspath(folder), "model_index.json")
    if not os.path.exists(path):
        raise ValueError(f"'{folder}' is not a text2lora generator: model_index.json is missing.")
    with open(path) as f:
        index = json.load(f)
    if index.get("_class_name") != "Text2LoraPipeline":
        raise ValueError(f"'{folder}' holds a {index.get('_class_name')}, not a Text2LoraPipeline generator.")
    return path, index


def load_generator(path_or_id=None, device="cpu", scheduler=None):
    """A :class:`Text2LoraPipeline` from a folder or Hub id (default: the shipped generator), progress bars off.

    ``scheduler`` ("ddim", "dpm" or "ddpm") swaps the sampler, keeping the saved scheduler's config. Anything that is
    not a text2lora generator raises one ``ValueError``.
    """
    from ..hub.resolve import check_hub_source

    path_or_id = os.fspath(path_or_id or SHIPPED_GENERATOR)
    if os.path.isdir(path_or_id):
        read_model_index(path_or_id)
    elif path_or_id == SHIPPED_GENERATOR:
        raise ValueError(f"The shipped generator is missing at {path_or_id}; retrain it with train.py.")
    else:
        check_hub_source(path_or_id, "Generator")
    try:
        pipe = Text2LoraPipeline.from_pretrained(path_or_id)
    except (OSError, ValueError) as err:
        raise ValueError(f"Could not load the generator '{path_or_id}': {str(err).splitlines()[0]}") from None
    pipe.set_progress_bar_config(disable=True)
    if scheduler is not None:
        swap_scheduler(pipe, scheduler)
    return pipe.to(device)


def swap_scheduler(pipe, name):
    """Replace ``pipe.scheduler`` by the diffusers scheduler ``name`` built from the current scheduler's config."""
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    classes = {"ddim": DDIMScheduler, "dpm": DPMSolverMultistepScheduler, "ddpm": DDPMScheduler}
    if name not in classes:
        raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {name!r}.")
    pipe.scheduler = classes[name].from_config(pipe.scheduler.config)
    return pipe


def set_routing_threshold(generator_dir, threshold):
    """Write ``routing_threshold`` (a cosine in [-1, 1], or ``None`` to stop routing) into a generator folder's
    ``model_index.json`` (atomically; the weights are not touched), so that ``method="auto"`` routes with it.
    Returns the path written."""
    from ..fileio import write_json_atomic

    if threshold is not None and not -1.0 <= float(threshold) <= 1.0:
        raise ValueError(f"routing_threshold is a cosine in [-1, 1], got {threshold!r}.")
    path, index = read_model_index(generator_dir)
    index["routing_threshold"] = None if threshold is None else float(threshold)
    write_json_atomic(path, index, indent=2)
    return path
