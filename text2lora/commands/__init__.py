"""The command-line entry points, as diffusers' ``commands/``: each module's ``main(argv=None)`` parses its flags
(dataclasses through ``transformers.HfArgumentParser``), calls the library and prints; ``run()`` is its console
script (``text2lora-collect``, ``text2lora-train``, ``text2lora-train-head``, ``text2lora-generate``,
``text2lora-evaluate``), and the top-level ``collect.py``, ``train.py``, ``train_head.py``, ``generate.py`` and
``evaluate_generator.py`` call the same ``main``."""
