"""Data: the task suite (``tasks``), adapter zoos on disk (``zoo``) and the LoRA weight layout (``layout``). The
folders beside these modules hold the shipped suite (``suite/``) and the shipped generator (``generator/``)."""
