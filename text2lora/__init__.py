"""text2lora: turn a task description into a working PEFT LoRA adapter, with no labelled data.

Names are imported on first use (as in transformers and diffusers), so ``import text2lora`` and the command-line
entry points load neither torch nor diffusers until something needs them.
"""

import importlib
import sys

from .lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "SHIPPED_GENERATOR": "pipelines",
    "AdapterSpec": "adapters",
    "LayoutMismatchError": "data.layout",
    "LoraDenoiser": "models",
    "LoraLayout": "data.layout",
    "Task": "data.tasks",
    "Text2LoraPipeline": "pipelines",
    "Text2LoraPipelineOutput": "pipelines",
    "balanced_accuracy": "evaluation.metrics",
    "list_families": "data.tasks",
    "list_tasks": "data.tasks",
    "load_custom_task": "data.tasks",
    "load_task": "data.tasks",
    "resolve_model": "hub",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


# ``DiffusionPipeline.from_pretrained(dir)`` finds Text2LoraPipeline once text2lora.pipelines is imported (it registers
# the class with diffusers). When diffusers' DiffusionPipeline is loaded already, that import is cheap: do it now.
if "diffusers.pipelines.pipeline_utils" in sys.modules:
    importlib.import_module(".pipelines", __name__)
