"""Pipelines: :class:`Text2LoraPipeline`, description in, PEFT adapter out."""

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
