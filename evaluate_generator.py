"""Evaluate a text2lora generator (the ``text2lora-evaluate`` command; see text2lora/commands/evaluate.py).

    python evaluate_generator.py                                   # all three questions -> reports/
    python evaluate_generator.py --task-data my_task.jsonl --description "flag complaints about delivery" --json
"""

from text2lora.cli import run_cli
from text2lora.commands.evaluate import main

if __name__ == "__main__":
    run_cli(main)
