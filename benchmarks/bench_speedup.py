"""How much faster is generating an adapter than fine-tuning one to the same test accuracy?

    python benchmarks/bench_speedup.py --generator text2lora/data/generator --zoo zoos/minilm-default

For each task (default: 4 seen tasks of the zoo):
1. generate an adapter from the task's first held-out description and time text -> adapter written on disk
   (embed + sample + save_adapter, warm models; --repeats times);
2. score it: balanced accuracy on the test split (the target);
3. fine-tune the task with the zoo's own recipe (TrainingSettings from zoo_config.json, from the zoo's shared
   initialization, same data order as text2lora.training.collection.train_task), evaluating on the test split every
   --eval_every steps (and at step 0 and at the last step), and stop at the first evaluated step whose accuracy is
   >= the target. The clock runs only while training: evaluation time is excluded. If the recipe ends first, the
   row says "not reached" and its time is the whole recipe's (a lower bound for the ratio). The global torch seed
   is set per task before each run, so every repeat follows the same trajectory (base-model dropout included);
   if the shared initialization already scores >= the target, the fine-tune time is 0.
ratio = fine-tune seconds / generation seconds (medians). Because accuracy is checked only every --eval_every
steps, the fine-tune time may overshoot by up to eval_every - 1 steps.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time

from _common import (
    DEFAULT_GENERATOR,
    DEFAULT_ZOO,
    BenchmarkError,
    add_common_args,
    finish,
    fmt,
    fmt_s,
    load_generator,
    load_zoo,
    machine_info,
    pick_tasks,
    require_dir,
    run_main,
    setup,
    stats,
    sync,
    table,
    timed,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", default=DEFAULT_GENERATOR)
    p.add_argument("--zoo", default=DEFAULT_ZOO)
    p.add_argument("--tasks", nargs="*", default=None, help="Zoo tasks (default: --num_tasks seen tasks).")
    p.add_argument("--num_tasks", type=int, default=4)
    p.add_argument("--steps", type=int, default=25, help="num_inference_steps of the generator.")
    p.add_argument("--eval_every", type=int, default=4, help="Evaluate the fine-tuning run every N steps.")
    p.add_argument("--finetune_repeats", type=int, default=None,
                   help="Repeats of each fine-tuning run (default: --repeats).")
    p.add_argument("--seed", type=int, default=0)
    add_common_args(p, "speedup")
    return p.parse_args(argv)


def finetune_until(peft_model, tokenizer, scorer, task, spec, settings, init_state, target, eval_every, device,
                   stop_step=None):
    """text2lora.training.collection.train_task (the zoo's recipe), evaluating on test every ``eval_every`` steps
    (and at the last step); stops once accuracy >= ``target``. With ``stop_step`` it trains exactly that many steps
    and never evaluates (a timing repeat of a run whose stopping step is known: the trajectory is seeded).

    Returns dict(seconds, step, total_steps, reached, accuracy, curve); seconds count training only."""
    import torch

    from text2lora.adapters import load_adapter_weights
    from text2lora.training.collection import _task_seed, recipe_steps, train_task

    n = len(task.labels("train"))
    total = recipe_steps(min(n, settings.max_train_examples) if settings.max_train_examples else n, settings)
    curve, state = [], {"eval_s": 0.0, "step": 0, "total": total, "accuracy": None, "reached": False}

    def evaluate(step):
        acc = scorer.score(None, task, "test")  # the weights being trained are already in the model
        curve.append({"step": step, "test_accuracy": acc})
        peft_model.train()
        state["accuracy"] = acc
        return acc

    def on_step(step, total_steps):
        state["step"], state["total"] = step, total_steps
        if stop_step is not None:
            return step >= stop_step
        if step % eval_every and step < total_steps:
            return False
        sync(device)
        t0 = time.perf_counter()
        reached = evaluate(step) >= target
        sync(device)
        state["eval_s"] += time.perf_counter() - t0
        state["reached"] = reached
        return reached

    if stop_step is None:
        load_adapter_weights(peft_model, init_state)
        peft_model.to(device)
        if evaluate(0) >= target:
            return {"seconds": 0.0, "step": 0, "total_steps": total, "reached": True, "accuracy": state["accuracy"],
                    "curve": curve}
    elif stop_step == 0:
        return {"seconds": 0.0, "step": 0, "total_steps": total, "reached": None, "accuracy": None, "curve": curve}
    torch.manual_seed(_task_seed(task.name, settings.train_seed))  # base-model dropout: same draws every repeat
    sync(device)
    _, seconds = train_task(peft_model, tokenizer, task, spec, settings, init_state, device, on_step=on_step)
    sync(device)
    return {"seconds": seconds - state["eval_s"], "step": state["step"], "total_steps": state["total"],
            "reached": state["reached"] if stop_step is None else None, "accuracy": state["accuracy"],
            "curve": curve}


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    device = setup(args)
    if args.eval_every < 1:
        raise BenchmarkError("--eval_every must be >= 1.")
    ft_repeats = args.finetune_repeats or args.repeats
    import torch

    from text2lora.adapters import AdapterScorer, adapter_state_dict, build_peft_model
    from text2lora.data.tasks import load_task
    from text2lora.training.collection import TrainingSettings

    require_dir(args.generator, "generator", "train one with train.py or pass --generator PATH.")
    require_dir(args.zoo, "zoo", "collect one with collect.py or pass --zoo PATH.")
    pipe = load_generator(args.generator, device)
    zoo = load_zoo(args.zoo)
    if zoo.layout != pipe.layout:
        raise BenchmarkError(f"the zoo's layout ({zoo.layout}) differs from the generator's ({pipe.layout}).")
    if "training" not in zoo.config:
        raise BenchmarkError(f"the zoo at '{args.zoo}' records no training recipe (zoo_config.json 'training').")
    settings = TrainingSettings.from_dict(zoo.config["training"])
    names = pick_tasks(zoo, args.tasks, args.num_tasks)

    # One-time loads (not part of the per-task generation time).
    t0 = time.perf_counter()
    pipe.encode_prompt(["warm up"])
    embedder_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    peft_gen = pipe.peft_model()
    peft_build_s = time.perf_counter() - t0

    # The fine-tuning model: the zoo's spec, its shared initialization (as ZooCollector builds it).
    peft_model, tokenizer = build_peft_model(zoo.spec)
    init_state = adapter_state_dict(peft_model)
    scorer = AdapterScorer(zoo.spec, peft_model, tokenizer, device)

    rows = []
    tmp_root = tempfile.mkdtemp(prefix="t2l-bench-speedup-")
    try:
        for name in names:
            task = load_task(name)
            desc = (task.heldout_descriptions or task.descriptions)[0]
            out_dir = os.path.join(tmp_root, name)
            holder = {}

            def generate_to_disk(desc=desc, out_dir=out_dir, holder=holder):
                cond = pipe.encode_prompt([desc])
                gen = torch.Generator(device=device).manual_seed(args.seed)
                vec = pipe([desc], num_inference_steps=args.steps, generator=gen, condition=cond,
                           output_type="vector").vectors[0]
                state = pipe.layout.unflatten(vec)
                pipe.save_adapter(state, out_dir, description=desc,
                                  generation_config={"description": desc, "seed": args.seed,
                                                     "num_inference_steps": args.steps}, peft_model=peft_gen)
                holder["state"] = state

            generate_to_disk()  # warm-up
            gen_s = timed(generate_to_disk, args.repeats, device,
                          after=lambda out_dir=out_dir: shutil.rmtree(out_dir, ignore_errors=True))
            target = scorer.score(holder["state"], task, "test")

            # The first run finds the stopping step (evaluating every --eval_every steps); the seeded trajectory is
            # the same every time, so the timing repeats train exactly to that step without evaluating.
            first = finetune_until(peft_model, tokenizer, scorer, task, zoo.spec, settings, init_state, target,
                                   args.eval_every, device)
            runs = [first] + [finetune_until(peft_model, tokenizer, scorer, task, zoo.spec, settings, init_state,
                                             target, args.eval_every, device, stop_step=first["step"])
                              for _ in range(ft_repeats - 1)]
            ft_s = stats([r["seconds"] for r in runs])
            reached = first["reached"]
            zoo_row = zoo.task_row(name)
            rows.append({"task": name, "description": desc, "generation_s": gen_s, "generated_test_accuracy": target,
                         "fine_tune_s": ft_s, "reached": reached, "steps_to_reach": runs[0]["step"],
                         "recipe_steps": runs[0]["total_steps"], "fine_tune_final_accuracy": runs[0]["accuracy"],
                         "curve": runs[0]["curve"], "init_test_accuracy": runs[0]["curve"][0]["test_accuracy"],
                         "zoo_test_accuracy": zoo_row.get("test_accuracy"),
                         "zoo_train_seconds": zoo_row.get("train_seconds"),
                         "ratio": ft_s["median"] / gen_s["median"] if gen_s["median"] else None})
            print(f"{name}: generated {target:.3f} in {gen_s['median']:.3f}s; fine-tune "
                  f"{'reached' if reached else 'did not reach'} it at step {runs[0]['step']}/{runs[0]['total_steps']} "
                  f"in {ft_s['median']:.2f}s")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    reached_ratios = [r["ratio"] for r in rows if r["reached"] and r["ratio"] is not None]
    all_ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    summary = {"median_ratio_reached": statistics.median(reached_ratios) if reached_ratios else None,
               "median_ratio_all": statistics.median(all_ratios) if all_ratios else None,
               "num_reached": sum(r["reached"] for r in rows), "num_tasks": len(rows)}
    results = {"tasks": rows, "summary": summary, "embedder_load_s": embedder_load_s,
               "peft_model_build_s": peft_build_s, "training_settings": vars(settings),
               "eval_every": args.eval_every, "inference_steps": args.steps}
    table_rows = [[r["task"], fmt(r["init_test_accuracy"]), fmt(r["generated_test_accuracy"]),
                   fmt_s(r["generation_s"]),
                   f"{r['steps_to_reach']}/{r['recipe_steps']}" if r["reached"]
                   else f"not reached ({r['recipe_steps']})",
                   fmt_s(r["fine_tune_s"]), fmt(r["zoo_test_accuracy"]),
                   fmt(r["ratio"]) if r["reached"] else f">= {fmt(r['ratio'])}"] for r in rows]
    tables = [table(
        f"Fine-tuning to the generated adapter's test accuracy vs generating it (seconds, median (min–max)); "
        f"device {device}",
        ["task", "shared-init acc", "generated acc", "generate s", "steps to reach", "fine-tune s",
         "zoo fine-tuned acc", "ratio ft/gen"], table_rows,
        notes=[f"median ratio over tasks that reached the target: {fmt(summary['median_ratio_reached'])} "
               f"({summary['num_reached']}/{summary['num_tasks']} reached); over all tasks (not reached = full "
               f"recipe, a lower bound): {fmt(summary['median_ratio_all'])}",
               f"generate = embed + {args.steps} sampling steps + save_adapter, warm models; one-time loads: "
               f"embedder {embedder_load_s:.2f}s, PEFT base {peft_build_s:.2f}s",
               f"fine-tune = the zoo's recipe (lr {settings.learning_rate}, head lr {settings.head_learning_rate}, "
               f"batch {settings.batch_size}, {settings.epochs} epochs of <= {settings.max_train_examples} examples) "
               f"from the shared init, test accuracy checked every {args.eval_every} steps (evaluation time "
               "excluded)"])]
    finish("speedup", args, machine_info(device), results, tables, started)


if __name__ == "__main__":
    run_main(main)
