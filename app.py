"""The text2lora web demo (text2lora.demo; also text2lora-demo): python app.py [--server_port 7860]."""

from text2lora.cli import run_cli
from text2lora.demo import main

if __name__ == "__main__":
    run_cli(main)
