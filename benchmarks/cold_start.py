"""Cold start of the CLI: ``python generate.py`` in a fresh process, against ``python -c "import torch"``.

    python benchmarks/cold_start.py
    python benchmarks/cold_start.py --baseline /tmp/text2lora-before   # also time another checkout, same rounds

Each round runs, each in a fresh subprocess and in this order: ``python -c "import torch"``,
``python generate.py --task "detect spam" --output_dir <tmp>`` and ``python generate.py --help`` (and the same two
commands of ``--baseline`` when given); ``--repeats`` rounds, so that a change of the machine's load hits every
command alike. Reported: the median (min–max) wall seconds of each command and its ratio to ``import torch`` (ratio
of the medians, and the median of the per-round ratios). Then, in fresh processes too: where a cold run spends its
time (the steps of ``generate.py`` timed one by one), and the warm number: text to a written adapter within one
process, the first call (which loads the embedder and the PEFT model) and the later ones.
"""

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _common import (
    DEFAULT_GENERATOR,
    REPO_ROOT,
    BenchmarkError,
    default_output,
    finish,
    fmt,
    fmt_s,
    machine_info,
    run_main,
    stats,
    table,
)

PHASES = [
    ("cli", "import the CLI module and parse the flags"),
    ("torch", "import torch (check_device)"),
    ("pipeline_import", "output checks: import the pipeline (diffusers, transformers, peft)"),
    ("generator_load", "load the generator (from_pretrained)"),
    ("embedder_load", "load the embedder"),
    ("embed", "embed the description (first call)"),
    ("sample", "snap + sample, 25 steps (embeds again, warm)"),
    ("peft_build", "build the PEFT model adapters are written through"),
    ("write", "write the adapter (PEFT save_pretrained + card)"),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="detect spam", help="The description generate.py is run with.")
    p.add_argument("--generator", default=None, help="Generator directory (default: generate.py's, the shipped one).")
    p.add_argument("--baseline", default=None, help="Another checkout whose generate.py is timed in the same rounds.")
    p.add_argument("--warm_repeats", type=int, default=10, help="Timed warm calls after the first one.")
    p.add_argument("--child", choices=["phases", "warm"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--repo", default=str(REPO_ROOT), help=argparse.SUPPRESS)
    p.add_argument("--output", default=default_output("cold_start"),
                   help="JSON result file (default: benchmarks/results/cold_start.json).")
    p.add_argument("--repeats", type=int, default=7, help="Rounds of the cold commands, and phase runs.")
    p.add_argument("--threads", type=int, default=None,
                   help="OMP_NUM_THREADS of every timed process (default: unset, torch's choice, as a user runs it).")
    return p.parse_args(argv)


def generate_argv(args, output_dir):
    argv = ["--task", args.task, "--output_dir", output_dir]
    return argv + (["--generator", os.path.abspath(args.generator)] if args.generator else [])


def run_timed(command, repo, threads=None):
    """Wall seconds of ``command`` run from ``repo`` with ``repo`` first on the import path (and ``OMP_NUM_THREADS``
    set to ``threads`` when given); its stdout."""
    env = dict(os.environ, PYTHONPATH=repo + (os.pathsep + os.environ["PYTHONPATH"] if "PYTHONPATH" in os.environ
                                              else ""))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkError(f"{' '.join(command[:3])} ... failed in {repo} (exit {proc.returncode}): {last}")
    return seconds, proc.stdout


def child(args, mode):
    """Run the ``phases`` or ``warm`` measurement in this fresh process (as ``--repo``'s code) and print JSON."""
    out_root = tempfile.mkdtemp(prefix="t2l-bench-cold-")
    try:
        result = phases(args, out_root) if mode == "phases" else warm(args, out_root)
    finally:
        shutil.rmtree(out_root, ignore_errors=True)
    print(json.dumps(result))


def one_shot_settings(repo):
    """Apply what the checkout's ``generate.py`` sets for its run (``run_cli(main, one_shot=True)``, when it has it:
    OpenMP threads that sleep while waiting, no cyclic GC); returns whether it did."""
    with open(os.path.join(repo, "generate.py"), encoding="utf-8") as f:
        if "one_shot=True" not in f.read():
            return False
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    gc.disable()
    return True


def phases(args, out_root):
    """The steps of ``generate.py`` (text2lora.commands.generate.main) timed one by one, in a fresh process with the
    process settings of the checkout's ``generate.py``."""
    one_shot_settings(args.repo)
    marks, last = {}, [time.perf_counter()]

    def mark(name):
        now = time.perf_counter()
        marks[name] = now - last[0]
        last[0] = now

    from text2lora.commands import generate

    cli = generate.parse_args(generate_argv(args, out_root))
    mark("cli")
    generate.check_device(cli.device)
    mark("torch")
    targets = generate.output_targets(cli)
    generate.quiet_libraries()
    from text2lora.pipelines import load_generator

    mark("pipeline_import")
    import torch

    pipe = load_generator(cli.generator, cli.device)
    mark("generator_load")
    pipe.embedder_model  # noqa: B018  (loads it)
    mark("embedder_load")
    pipe.encode_prompt(cli.task)
    mark("embed")
    out = pipe(cli.task, generator=torch.Generator().manual_seed(cli.seed))
    mark("sample")
    peft_model = pipe.peft_model()
    mark("peft_build")
    description, _, target, _ = targets[0]
    pipe.save_adapter(out.adapters[0], target, description=description, peft_model=peft_model,
                      generation_config={"description": description, "method": "diffusion", "seed": cli.seed})
    mark("write")
    return marks


def warm(args, out_root):
    """Text to a written adapter in one process with the generator loaded, as in one ``generate.py`` run (its process
    settings): every call's seconds (the first one loads the embedder and the PEFT model)."""
    one_shot_settings(args.repo)
    import torch

    from text2lora.commands.generate import quiet_libraries
    from text2lora.data.tasks import list_tasks, task_info
    from text2lora.pipelines import load_generator

    quiet_libraries()
    pipe = load_generator(args.generator)
    descriptions = [args.task] + [task_info(name)["descriptions"][0] for name in list_tasks()[:args.warm_repeats]]
    times = []
    for i, description in enumerate(descriptions):
        start = time.perf_counter()
        out = pipe([description], generator=torch.Generator().manual_seed(0))
        pipe.save_adapter(out.adapters[0], os.path.join(out_root, f"adapter-{i}"), description=description,
                          generation_config={"description": description, "method": "diffusion", "seed": 0})
        times.append(time.perf_counter() - start)
    return times


def child_json(args, mode, repo):
    command = [sys.executable, os.path.abspath(__file__), "--child", mode, "--repo", repo, "--task", args.task,
               "--warm_repeats", str(args.warm_repeats)] + (["--generator", os.path.abspath(args.generator)]
                                                             if args.generator else [])
    _, stdout = run_timed(command, repo, args.threads)
    return json.loads(stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        sys.path.insert(0, args.repo)
        return child(args, args.child)
    started = time.perf_counter()
    if args.repeats < 1 or args.warm_repeats < 1:
        raise BenchmarkError("--repeats and --warm_repeats must be >= 1.")
    repos = {"this checkout": str(REPO_ROOT)}
    if args.baseline:
        if not os.path.isfile(os.path.join(args.baseline, "generate.py")):
            raise BenchmarkError(f"--baseline '{args.baseline}' holds no generate.py.")
        repos["baseline"] = os.path.abspath(args.baseline)
    generator = args.generator or DEFAULT_GENERATOR
    if not os.path.isdir(generator):
        raise BenchmarkError(f"generator not found at '{generator}'; pass --generator PATH.")

    commands = {"import torch": ([sys.executable, "-c", "import torch"], str(REPO_ROOT))}
    out_root = tempfile.mkdtemp(prefix="t2l-bench-cold-")
    for label, repo in repos.items():
        commands[f"generate ({label})"] = ([sys.executable, "generate.py"] + generate_argv(args, "{out}"), repo)
        commands[f"help ({label})"] = ([sys.executable, "generate.py", "--help"], repo)
    times = {name: [] for name in commands}
    load_before = os.getloadavg()[0]
    try:
        for round_index in range(args.repeats):
            for k, (name, (command, repo)) in enumerate(commands.items()):
                out = os.path.join(out_root, f"run-{round_index}-{k}")
                seconds, _ = run_timed([part.replace("{out}", out) for part in command], repo, args.threads)
                times[name].append(seconds)
            print(f"round {round_index + 1}/{args.repeats}: "
                  + ", ".join(f"{name} {values[-1]:.2f}s" for name, values in times.items()), flush=True)
        phase_runs = {label: [child_json(args, "phases", repo) for _ in range(args.repeats)]
                      for label, repo in repos.items()}
        warm_runs = {label: child_json(args, "warm", repo) for label, repo in repos.items()}
    finally:
        shutil.rmtree(out_root, ignore_errors=True)
    load_after = os.getloadavg()[0]

    torch_s = stats(times["import torch"])
    cold = {name: {"seconds": stats(values), "ratio_of_medians": stats(values)["median"] / torch_s["median"],
                   "median_ratio_per_round": stats([v / t for v, t in zip(values, times["import torch"])])["median"]}
            for name, values in times.items()}
    phase_stats = {label: {key: stats([run[key] for run in runs]) for key, _ in PHASES}
                   for label, runs in phase_runs.items()}
    warm_stats = {label: {"first_call_s": runs[0], "later_calls_s": stats(runs[1:])}
                  for label, runs in warm_runs.items()}
    results = {"task": args.task, "generator": args.generator or "generate.py's default (the shipped generator)",
               "repos": repos, "cold": cold, "phases": phase_stats, "warm": warm_stats,
               "load_avg_1m": {"before_rounds": load_before, "after": load_after}}

    display = {"import torch": 'python -c "import torch"'}
    for label in repos:
        display[f"generate ({label})"] = f'python generate.py --task "{args.task}" --output_dir <tmp> ({label})'
        display[f"help ({label})"] = f"python generate.py --help ({label})"
    tables = [table(
        f"Cold start, a fresh process per run (seconds, median (min–max) over {args.repeats} interleaved rounds)",
        ["command", "seconds", "x import torch (medians)", "x import torch (median per round)"],
        [[display[name], fmt_s(c["seconds"]), fmt(c["ratio_of_medians"]), fmt(c["median_ratio_per_round"])]
         for name, c in cold.items()],
        notes=[f"load average (1 min) before the rounds {load_before:.2f}, after everything {load_after:.2f}: on a "
               "shared machine compare the ratios to import torch rather than the seconds",
               f"OMP_NUM_THREADS={args.threads} in every timed process" if args.threads
               else "OMP_NUM_THREADS unset (torch's choice of threads, as a user runs it)"]
              + ([f"baseline: {repos['baseline']}"] if args.baseline else []))]
    labels = list(repos)
    rows = [[text] + [fmt_s(phase_stats[label][key]) for label in labels] for key, text in PHASES]
    rows.append(["sum of the medians"] + [fmt(sum(phase_stats[label][key]["median"] for key, _ in PHASES))
                                          for label in labels])
    tables.append(table(f"Where a cold generate.py run spends its time (seconds, median (min–max) over {args.repeats} "
                        "fresh processes)", ["step"] + labels, rows,
                        notes=["each step as generate.py runs it, timed in a fresh process (python startup, ~0.1 s "
                               "on an idle machine, is not included)"]))
    tables.append(table("Warm: text to a written adapter within one process, generator loaded (seconds)",
                        ["checkout", "first call (loads embedder and PEFT model)",
                         f"later calls, median (min–max) of {args.warm_repeats}"],
                        [[label, fmt(w["first_call_s"]), fmt_s(w["later_calls_s"])] for label, w in warm_stats.items()],
                        notes=["a call = pipe([description]) with 25 DDIM steps (snapped) + pipe.save_adapter; a new "
                               "description each call; process settings as the checkout's generate.py sets them"]))
    finish("cold_start", args, machine_info(), results, tables, started)


if __name__ == "__main__":
    run_main(main)
