"""Generate a PEFT LoRA adapter from a task description (text2lora.commands.generate; also text2lora-generate)."""

from text2lora.cli import run_cli
from text2lora.commands.generate import main

if __name__ == "__main__":
    run_cli(main, one_shot=True)
