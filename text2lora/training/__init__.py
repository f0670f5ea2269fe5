"""Training: zoo collection (``collection``), crash-safe checkpoints (``checkpoints``) and the head generator's
task-loss training (``head_training``)."""
