"""Collect a zoo of LoRA adapters with PEFT, one per task (text2lora.commands.collect; also text2lora-collect)."""

from text2lora.cli import run_cli
from text2lora.commands.collect import main

if __name__ == "__main__":
    run_cli(main)
