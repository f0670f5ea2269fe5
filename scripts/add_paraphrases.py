"""Append training paraphrases to the suite's description files (the "augmented" list of each task).

    python scripts/add_paraphrases.py new_paraphrases.json [more.json ...]

Each input maps a task name to a list of new training descriptions. They are appended to the task's "augmented" list
in the descriptions file that already holds the task (text2lora/data/suite/descriptions/*.json), in order, skipping any
that equal (case and whitespace aside) a description the task already has, its held-out ones included. Tasks that
are not described yet, unseen tasks (whose descriptions stay hand-written only) and unknown names are refused before
anything is written. Each file keeps its indentation and is written through a temporary file and a rename.
"""

import argparse
import json
import os
import sys
from pathlib import Path

DESCRIPTIONS = Path(__file__).resolve().parent.parent / "text2lora" / "data" / "suite" / "descriptions"
TASKS = DESCRIPTIONS.parent / "tasks.json"


def normalized(text):
    return " ".join(text.lower().split())


def file_format(raw):
    """(indent, trailing newline) that reproduce ``raw`` from its parsed JSON."""
    data = json.loads(raw)
    for indent in (1, 2):
        for newline in ("\n", ""):
            if json.dumps(data, indent=indent, ensure_ascii=False) + newline == raw:
                return indent, newline
    return 1, "\n"


def add_paraphrases(new, descriptions_dir=DESCRIPTIONS, tasks_path=TASKS):
    """Append ``new`` ({task: [descriptions]}) to the "augmented" lists; returns {task: number added}."""
    splits = {name: info["split"] for name, info in json.loads(Path(tasks_path).read_text())["tasks"].items()}
    files, owner = {}, {}
    for path in sorted(Path(descriptions_dir).glob("*.json")):
        raw = path.read_text(encoding="utf-8")
        files[path] = (json.loads(raw), file_format(raw))
        for name in files[path][0]:
            owner[name] = path
    problems = [f"{n}: unknown task" for n in new if n not in splits]
    problems += [f"{n}: no descriptions file holds it yet" for n in new if n in splits and n not in owner]
    problems += [f"{n}: {splits[n]} tasks keep hand-written descriptions only" for n in new
                 if splits.get(n) in ("unseen", "unseen_dataset")]
    if problems:
        raise ValueError("Nothing was written:\n  " + "\n  ".join(problems))
    added, touched = {}, set()
    for name, texts in new.items():
        entry = files[owner[name]][0][name]
        known = {normalized(t) for key in ("train", "augmented", "heldout") for t in entry.get(key, [])}
        fresh = []
        for text in texts:
            if isinstance(text, str) and text.strip() and normalized(text) not in known:
                known.add(normalized(text))
                fresh.append(" ".join(text.split()))
        if fresh:
            entry.setdefault("augmented", []).extend(fresh)
            touched.add(owner[name])
        added[name] = len(fresh)
    for path in touched:
        data, (indent, newline) = files[path]
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=indent, ensure_ascii=False) + newline, encoding="utf-8")
        os.replace(tmp, path)
    return added


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="JSON files mapping task names to new descriptions.")
    args = parser.parse_args()
    new = {}
    for path in args.inputs:
        with open(path, encoding="utf-8") as f:
            for name, texts in json.load(f).items():
                new.setdefault(name, []).extend(texts)
    try:
        added = add_paraphrases(new)
    except ValueError as err:
        print(err, file=sys.stderr)
        sys.exit(2)
    print(f"added {sum(added.values())} paraphrases to {sum(1 for v in added.values() if v)} tasks "
          f"({sum(len(v) for v in new.values()) - sum(added.values())} duplicates skipped)")


if __name__ == "__main__":
    main()
