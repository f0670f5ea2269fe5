"""Add a task-loss head generator to a trained generator (text2lora.commands.train_head; also text2lora-train-head)."""

from text2lora.cli import run_cli
from text2lora.commands.train_head import main

if __name__ == "__main__":
    run_cli(main)
