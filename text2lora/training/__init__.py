"""Training: zoo collection (``collection``), the generator's denoiser (``denoiser_training``: its arguments, data and
loop; ``denoising``: the loss of one step), crash-safe checkpoints (``checkpoints``), and the head generator
(``head_generator``: its arguments and run; ``head_training``: features and the task-loss training)."""
