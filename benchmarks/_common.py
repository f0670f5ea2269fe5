"""Shared helpers for the benchmark scripts: machine info, repeated timing, memory, tables and atomic JSON output.

Every script stores its raw measurements, the exact command that produced them, the machine, and the tables it
prints (``tables``), so that ``write_benchmarks_md.py`` renders BENCHMARKS.md from the JSON files alone.
"""

import contextlib
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # benchmarks never download: a missing model fails at once
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # before this process adds its own load
REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
DEFAULT_GENERATOR = str(REPO_ROOT / "text2lora" / "data" / "generator")
DEFAULT_ZOO = str(REPO_ROOT / "zoos" / "minilm-default")


class BenchmarkError(Exception):
    """A missing input or bad argument: reported as one line, no traceback."""


def run_main(main):
    """Run ``main()`` and turn :class:`BenchmarkError` (and the package's ValueErrors) into a one-line error."""
    try:
        main()
    except (BenchmarkError, ValueError) as err:
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        sys.exit(2)


def default_output(name):
    return str(RESULTS_DIR / f"{name}.json")


def add_common_args(parser, name, repeats=5, device=True):
    parser.add_argument("--output", default=default_output(name),
                        help=f"JSON result file (default: benchmarks/results/{name}.json).")
    parser.add_argument("--repeats", type=int, default=repeats, help="Repeats of each measurement (median/min/max).")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice).")
    if device:
        parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu).")
    return parser


def setup(args):
    """Apply --threads/--device checks; returns the torch device string."""
    import torch

    if args.repeats < 1:
        raise BenchmarkError(f"--repeats must be >= 1, got {args.repeats}.")
    if args.threads:
        torch.set_num_threads(args.threads)
    _quiet()
    device = getattr(args, "device", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchmarkError(f"--device {device} was asked for but torch sees no CUDA device.")
    return device


def _quiet():
    """No progress bars or warnings from the libraries in the printed tables."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()
        diffusers_logging.set_verbosity_error()
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def command_line():
    """The exact command, as the user typed it (quoted where needed), relative to the repo root when possible."""
    argv = list(sys.argv)
    try:
        argv[0] = os.path.relpath(os.path.abspath(argv[0]), os.getcwd())
    except ValueError:
        pass
    return "python " + shlex.join(argv)


def machine_info(device="cpu", dtype="fp32"):
    import psutil
    import torch

    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m_at_start": round(_LOAD_AT_START, 2) if _LOAD_AT_START is not None else None,
        "torch": torch.__version__,
        "device": "cuda" if str(device).startswith("cuda") else str(device),
        "dtype": dtype,
        "gpu": torch.cuda.get_device_name(0) if str(device).startswith("cuda") else None,
        "git_commit": _git_commit(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
    }
    for pkg in ("diffusers", "peft", "transformers", "sentence_transformers"):
        try:
            info[pkg] = __import__(pkg).__version__
        except Exception:
            info[pkg] = None
    return info


def _git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=5)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else None
    except Exception:
        return None


# -- timing -------------------------------------------------------------------------------------------------------
def sync(device):
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def stats(values):
    """median/min/max (and every value) of a list of numbers."""
    values = [float(v) for v in values]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "values": values}


def timed(fn, repeats, device="cpu", before=None, after=None):
    """Stats of ``repeats`` timed calls of ``fn`` (wall seconds); ``before``/``after`` run untimed around each."""
    times = []
    for _ in range(repeats):
        if before:
            before()
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
        if after:
            after()
    return stats(times)


# -- memory -------------------------------------------------------------------------------------------------------
def rss_mb():
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def release_freed_memory():
    """Collect garbage and ask glibc to hand freed heap pages back to the OS, so that RSS deltas of the next block
    are not hidden by memory the allocator kept from an earlier one (a no-op where malloc_trim is unavailable)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class MemoryMeter:
    """Memory used by a block, in MB.

    On CUDA: ``peak_mb`` = ``torch.cuda.max_memory_allocated`` during the block minus the allocation at its start.
    On CPU: process RSS from psutil (freed heap pages are released first); ``delta_mb`` = RSS after - before, and
    ``peak_mb`` = the highest RSS seen by a light sampling thread (every ``interval`` s) minus RSS before. Both are
    coarse (the allocator keeps pages, other objects share the process): compare them across sizes of one run
    rather than read them as absolute numbers.
    """

    def __init__(self, device="cpu", interval=0.005):
        self.device = str(device)
        self.interval = interval
        self.delta_mb = self.peak_mb = None

    def __enter__(self):
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._start = torch.cuda.memory_allocated()
        else:
            release_freed_memory()
            self._start = rss_mb()
            self._peak = self._start
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, rss_mb())
            self._stop.wait(self.interval)

    def __exit__(self, *exc):
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - self._start) / 2**20
            self.delta_mb = (torch.cuda.memory_allocated() - self._start) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            end = rss_mb()
            self._peak = max(self._peak, end)
            self.delta_mb = end - self._start
            self.peak_mb = self._peak - self._start
        return False

    def to_dict(self):
        kind = "cuda max_memory_allocated" if self.device.startswith("cuda") else "process RSS (psutil)"
        return {"delta_mb": self.delta_mb, "peak_mb": self.peak_mb, "source": kind}


def autocast(device, dtype):
    """bf16/fp16 autocast context for --dtype, or a no-op for fp32."""
    import torch

    if dtype in (None, "fp32"):
        return contextlib.nullcontext()
    torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    return torch.autocast(device_type="cuda" if str(device).startswith("cuda") else "cpu", dtype=torch_dtype)


# -- formatting ---------------------------------------------------------------------------------------------------
def fmt_s(st, digits=3):
    """'median (min–max)' of a stats dict, in seconds, or '–'."""
    if not st:
        return "–"
    return f"{_num(st['median'], digits)} ({_num(st['min'], digits)}–{_num(st['max'], digits)})"


def _num(v, digits=3):
    if v is None:
        return "–"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.{max(1, digits - 1)}f}"
    return f"{v:.{digits}g}"


def fmt(v, digits=3):
    return _num(v, digits) if isinstance(v, (int, float)) else ("–" if v is None else str(v))


def table(title, columns, rows, notes=None):
    """A table as stored in the JSON (list of string cells) and rendered by print_table / write_benchmarks_md."""
    return {"title": title, "columns": list(columns), "rows": [[str(c) for c in r] for r in rows],
            "notes": list(notes or [])}


def print_table(t):
    cols = t["columns"]
    widths = [max(len(str(c)), *(len(r[i]) for r in t["rows"])) if t["rows"] else len(str(c))
              for i, c in enumerate(cols)]
    print(f"\n{t['title']}")
    print("  ".join(str(c).ljust(w) for c, w in zip(cols, widths)))
    print("  ".join("-" * w for w in widths))
    for r in t["rows"]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    for note in t.get("notes", []):
        print(f"  note: {note}")


# -- output -------------------------------------------------------------------------------------------------------
def write_json(path, obj):
    """Write ``obj`` as JSON atomically (temp file in the same folder, then os.replace)."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, ensure_ascii=False, default=_json_default)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def finish(name, args, machine, results, tables, started, notes=None):
    """Print the tables and write the result JSON; returns the written path."""
    for t in tables:
        print_table(t)
    doc = {"benchmark": name, "command": command_line(), "machine": machine, "args": vars(args),
           "wall_seconds": time.perf_counter() - started, "results": results, "tables": tables,
           "notes": list(notes or [])}
    path = write_json(args.output, doc)
    print(f"\nwrote {path}")
    return path


# -- inputs -------------------------------------------------------------------------------------------------------
def require_dir(path, what, hint):
    if not path or not os.path.isdir(path):
        raise BenchmarkError(f"{what} not found at '{path}'; {hint}")
    return path


def load_generator(path, device="cpu"):
    """The pipeline at ``path`` (a local directory), through text2lora.pipelines.load_generator."""
    require_dir(path, "generator", "train one with train.py (e.g. --output_dir text2lora/data/generator) or pass "
                                   "--generator PATH.")
    from text2lora.pipelines import load_generator as load

    return load(path, device)


def load_zoo(path):
    require_dir(path, "zoo", "collect one with collect.py or pass --zoo PATH.")
    from text2lora.data.zoo import Zoo

    return Zoo.load(path)


def pick_tasks(zoo, names, count, split="seen"):
    """``names`` if given (checked against the zoo), else ``count`` tasks of ``split`` spread over the zoo's list."""
    available = zoo.task_names(split=split)
    if names:
        missing = [n for n in names if n not in set(zoo.task_names())]
        if missing:
            raise BenchmarkError(f"tasks not in the zoo: {missing}")
        return list(names)
    if not available:
        raise BenchmarkError(f"the zoo at '{zoo.path}' has no {split} tasks.")
    step = max(1, len(available) // count)
    return available[::step][:count]


# -- synthetic layouts --------------------------------------------------------------------------------------------
# name -> (description, builder of (keys, shapes)). Keys are named as PEFT names them in the adapter state dict.
def _minilm_keys():
    keys, shapes = [], []
    for i in range(6):
        for m in ("query", "value"):
            prefix = f"base_model.model.bert.encoder.layer.{i}.attention.self.{m}"
            keys += [f"{prefix}.lora_A.weight", f"{prefix}.lora_B.weight"]
            shapes += [(8, 384), (384, 8)]
    keys += ["base_model.model.classifier.weight", "base_model.model.classifier.bias"]
    shapes += [(2, 384), (2,)]
    return keys, shapes


def _decoder_keys(layers, hidden, modules):
    """``modules``: {name: (in_features, out_features)}; LoRA r=8 A (8, in) and B (out, 8) per module."""
    keys, shapes = [], []
    for i in range(layers):
        for m, (fan_in, fan_out) in modules.items():
            prefix = f"base_model.model.model.layers.{i}.self_attn.{m}"
            keys += [f"{prefix}.lora_A.weight", f"{prefix}.lora_B.weight"]
            shapes += [(8, fan_in), (fan_out, 8)]
    return keys, shapes


SYNTHETIC_LAYOUTS = {
    "75k": ("MiniLM-L6 (r=8 query,value + 2-way head)", _minilm_keys),
    "460k": ("SmolLM2-135M (r=8 q 576->576, v 576->192, 30 layers)",
             lambda: _decoder_keys(30, 576, {"q_proj": (576, 576), "v_proj": (576, 192)})),
    "3.4m": ("Mistral-7B (r=8 q 4096->4096, v 4096->1024 (GQA), 32 layers)",
             lambda: _decoder_keys(32, 4096, {"q_proj": (4096, 4096), "v_proj": (4096, 1024)})),
    "4.2m": ("Llama-2-7B (r=8 q,v 4096->4096, 32 layers)",
             lambda: _decoder_keys(32, 4096, {"q_proj": (4096, 4096), "v_proj": (4096, 4096)})),
}


def synthetic_layout(name, token_size=512):
    from text2lora.data.layout import LoraLayout

    if name not in SYNTHETIC_LAYOUTS:
        raise BenchmarkError(f"unknown size '{name}'; choose from {sorted(SYNTHETIC_LAYOUTS)}.")
    keys, shapes = SYNTHETIC_LAYOUTS[name][1]()
    return LoraLayout(keys, shapes, token_size=token_size)


# -- denoiser training / sampling steps ---------------------------------------------------------------------------
def build_denoiser(layout, latent_dim=0, hidden_size=256, num_layers=4, num_heads=4, mlp_ratio=2.0,
                   latent_token_size=10, adapter_spec=None, condition_dim=384):
    """A LoraDenoiser as train.py builds it (text condition)."""
    from text2lora.models import LoraDenoiser

    return LoraDenoiser(layout=layout.to_dict(), adapter_spec=adapter_spec or {}, condition_type="text",
                        condition_dim=condition_dim, hidden_size=hidden_size, num_layers=num_layers,
                        num_heads=num_heads, mlp_ratio=mlp_ratio, latent_dim=latent_dim,
                        latent_token_size=latent_token_size)


class TrainStep:
    """One optimizer step of train.py's loop: the library's denoising loss (``denoising_loss``: DDPM noise, the
    training defaults of ``DenoiserTrainingArguments`` for the noise schedule, prediction type, null-condition dropout
    and Min-SNR gamma), backward, grad-norm clip and AdamW. Batches are drawn from ``tokens`` (N, *sample_shape,
    already normalized) and ``conditions`` (N, dim), both on ``device``; ``dtype`` autocasts the loss."""

    def __init__(self, model, tokens, conditions, batch_size, device="cpu", dtype="fp32", lr=1e-3, snr_gamma=None,
                 seed=0):
        import torch
        from diffusers import DDPMScheduler

        from text2lora.training.denoiser_training import DenoiserTrainingArguments

        self.defaults = DenoiserTrainingArguments()
        self.model, self.tokens, self.conditions = model, tokens, conditions
        self.batch_size, self.device, self.dtype = batch_size, device, dtype
        self.snr_gamma = self.defaults.snr_gamma if snr_gamma is None else snr_gamma
        self.scheduler = DDPMScheduler(num_train_timesteps=self.defaults.num_train_timesteps,
                                       beta_schedule=self.defaults.beta_schedule, clip_sample=False,
                                       prediction_type=self.defaults.prediction_type)
        self.trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.trainable, lr=lr)
        self.generator = torch.Generator().manual_seed(seed)
        model.train()

    def __call__(self):
        import torch

        from text2lora.training.denoising import denoising_loss

        idx = torch.randint(0, len(self.tokens), (self.batch_size,), generator=self.generator).to(self.tokens.device)
        with autocast(self.device, self.dtype):
            loss = denoising_loss(self.model, self.scheduler, self.tokens[idx], self.conditions[idx],
                                  self.defaults.prediction_type, self.snr_gamma, self.defaults.cond_dropout_prob)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.trainable, self.defaults.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()


def random_conditions(n, dim=384, seed=0, device="cpu"):
    """L2-normalized random condition vectors (the cost of a step does not depend on their content)."""
    import torch

    c = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))
    return (c / c.norm(dim=1, keepdim=True)).to(device)


def random_adapters(layout, n, seed=0):
    """``n`` random flat adapters (LoRA-like scale) for fitting the normalization of a synthetic layout."""
    import torch

    return torch.randn(n, layout.num_params, generator=torch.Generator().manual_seed(seed)) * 0.02
