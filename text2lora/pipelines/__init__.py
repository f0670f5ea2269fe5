"""Pipelines: :class:`Text2LoraPipeline`, description in, PEFT adapter out."""

from .. import models  # noqa: F401  (diffusers loads a pipeline's components only from modules imported already)
from .loading import load_generator, swap_scheduler
from .pipeline_text2lora import (
    SHIPPED_GENERATOR,
    NonFiniteWeightsError,
    Text2LoraPipeline,
    Text2LoraPipelineOutput,
    adapter_folder_name,
    task_slug,
)

__all__ = ["SHIPPED_GENERATOR", "NonFiniteWeightsError", "Text2LoraPipeline", "Text2LoraPipelineOutput",
           "adapter_folder_name", "load_generator", "swap_scheduler", "task_slug"]


def _register_with_diffusers():
    """Make ``DiffusionPipeline.from_pretrained(dir)`` find text2lora's pipeline class by name."""
    import diffusers

    for cls in (Text2LoraPipeline,):
        if not hasattr(diffusers, cls.__name__):
            setattr(diffusers, cls.__name__, cls)


_register_with_diffusers()
