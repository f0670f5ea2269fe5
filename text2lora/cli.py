"""What every command-line entry point shares: argument parsing from dataclasses, device checks and one-line errors
with exit code 2."""

import argparse
import dataclasses
import gc
import importlib.util
import os
import sys


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``--help`` keeps the description's line breaks and shows each flag's default."""


def dataclass_parser(dataclass_types, description=None):
    """A ``transformers.HfArgumentParser`` with one flag per field of ``dataclass_types``.

    ``HfArgumentParser`` gives every list field ``nargs="+"``; a field whose metadata names ``nargs`` gets that one
    instead (``nargs="*"``: the flag alone means an empty list).
    """
    parser = hf_argument_parser()(dataclass_types, description=description, formatter_class=HelpFormatter)
    for dtype in parser.dataclass_types:
        for field in dataclasses.fields(dtype):
            if "nargs" in field.metadata:
                parser._option_string_actions[f"--{field.name}"].nargs = field.metadata["nargs"]
    return parser


def hf_argument_parser():
    """The class ``transformers.HfArgumentParser``, without importing transformers when it is not imported yet.

    Importing transformers takes about a second, which ``--help`` and a bad flag should not wait for; the module that
    defines the parser needs only the standard library and yaml, so it is loaded from its file on its own. Should it
    ever need the rest of transformers, the package import is the fallback.
    """
    if "transformers" not in sys.modules:
        spec = importlib.util.find_spec("transformers")
        path = os.path.join(spec.submodule_search_locations[0], "hf_argparser.py")
        module_spec = importlib.util.spec_from_file_location("text2lora._hf_argparser", path)
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
            return module.HfArgumentParser
        except ImportError:
            pass
    from transformers import HfArgumentParser

    return HfArgumentParser


def parse_dataclasses(dataclass_types, argv=None, description=None):
    """Parse ``argv`` (default: ``sys.argv[1:]``) into one instance of each of ``dataclass_types``."""
    parser = dataclass_parser(dataclass_types, description)
    return parser.parse_args_into_dataclasses(argv, look_for_args_file=False)


def check_choices(obj):
    """Raise ``ValueError`` when a field of the dataclass ``obj`` is not one of its ``metadata["choices"]`` (the
    parser checks them on the command line; this checks instances built in Python too)."""
    for field in dataclasses.fields(obj):
        choices, value = field.metadata.get("choices"), getattr(obj, field.name)
        if choices is not None and value is not None and value not in choices:
            raise ValueError(f"--{field.name} must be one of {', '.join(map(str, choices))}; got {value!r}.")


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


def run_cli(main, argv=None, one_shot=False):
    """Call ``main(argv)``; bad input (``ValueError``) and file-system refusals (``OSError``) become one line on
    stderr and exit code 2, with no traceback. A network failure exits with 3.

    ``one_shot=True`` is for short commands (generate.py), whose start-up is most of their time:

    - Python's cyclic garbage collector is off while ``main`` runs: the imports and model loads create a great many
      long-lived objects, which each full collection scans again (about a second of a cold start), and hardly any
      garbage cycles; reference counting frees memory as usual;
    - OpenMP threads that wait sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE`` unless set; it applies when
      torch is imported later in the process): on a machine whose cores are busy, spinning threads made the small
      operations of sampling wait for each other, 25 steps taking seconds instead of a tenth of one.
    """
    gc_was_enabled = gc.isenabled()
    if one_shot:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        gc.disable()
    try:
        return main(argv)
    except ConnectionError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(3)
    except (ValueError, OSError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    finally:
        if gc_was_enabled:
            gc.enable()
