"""text2lora: turn a task description into a working PEFT LoRA adapter, with no labelled data."""

__version__ = "0.1.0"

from .adapters import AdapterSpec
from .data.layout import LayoutMismatchError, LoraLayout
from .data.tasks import Task, list_families, list_tasks, load_custom_task, load_task
from .evaluation.metrics import balanced_accuracy
from .hub import resolve_model
from .models import LoraDenoiser
from .pipelines import SHIPPED_GENERATOR, Text2LoraPipeline, Text2LoraPipelineOutput


def _register_with_diffusers():
    """Make ``DiffusionPipeline.from_pretrained(dir)`` find text2lora's classes by name."""
    import diffusers

    for cls in (Text2LoraPipeline,):
        if not hasattr(diffusers, cls.__name__):
            setattr(diffusers, cls.__name__, cls)


_register_with_diffusers()

__all__ = [
    "SHIPPED_GENERATOR",
    "AdapterSpec",
    "LayoutMismatchError",
    "LoraDenoiser",
    "LoraLayout",
    "Task",
    "Text2LoraPipeline",
    "Text2LoraPipelineOutput",
    "balanced_accuracy",
    "list_families",
    "list_tasks",
    "load_custom_task",
    "load_task",
    "resolve_model",
]
