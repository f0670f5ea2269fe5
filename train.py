"""Train a text2lora generator on a zoo (text2lora.commands.train; also text2lora-train). Works under
``accelerate launch train.py``."""

from text2lora.cli import run_cli
from text2lora.commands.train import main

if __name__ == "__main__":
    run_cli(main)
