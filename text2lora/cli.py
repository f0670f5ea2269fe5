"""What every command-line entry point shares: device checks and one-line errors with exit code 2."""

import sys


def check_device(name):
    """Return ``name`` if torch can use that device here; otherwise raise ``ValueError`` naming what is available."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"Unknown device {name!r}; use cpu, cuda, cuda:N or mps.") from None
    available = ["cpu"]
    if torch.cuda.is_available():
        available += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        available.append("mps")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA GPU is available on this machine (available: "
                         f"{', '.join(available)}).")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s).")
    if device.type == "mps" and "mps" not in available:
        raise ValueError(f"--device {name}: MPS is not available on this machine (available: {', '.join(available)}).")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name}: text2lora runs on cpu, cuda or mps (available: {', '.join(available)}).")
    return name


def run_cli(main, argv=None):
    """Call ``main(argv)``; bad input (``ValueError``) and file-system refusals (``OSError``) become one line on
    stderr and exit code 2, with no traceback. A network failure exits with 3."""
    try:
        return main(argv)
    except ConnectionError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(3)
    except (ValueError, OSError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
