"""Check that a rebuilt task suite keeps every task of an older one unchanged.

Every rows file of OLD must exist in NEW with the same bytes (gzip included), and every task of OLD's tasks.json must
be in NEW's with an identical entry (same name, split, counts, licence, ...; key order included). NEW may add files,
tasks and top-level settings. Exit status 1 on any difference.

Usage:
    python scripts/build_task_suite.py --raw ../shared/data/raw --out /tmp/suite
    python scripts/compare_suites.py text2lora/data/suite /tmp/suite
"""

import argparse
import json
import sys
from pathlib import Path


def compare(old, new):
    """The differences between suite folders ``old`` and ``new`` (empty when ``new`` keeps all of ``old``), and what
    was compared."""
    problems = []
    rows = sorted((old / "rows").glob("*.jsonl.gz"))
    for path in rows:
        other = new / "rows" / path.name
        if not other.exists():
            problems.append(f"rows/{path.name}: missing")
        elif other.read_bytes() != path.read_bytes():
            problems.append(f"rows/{path.name}: bytes differ")
    old_meta = json.loads((old / "tasks.json").read_text())
    new_meta = json.loads((new / "tasks.json").read_text())
    for key, value in old_meta.items():
        if key != "tasks" and new_meta.get(key) != value:
            problems.append(f"tasks.json setting '{key}': {value!r} -> {new_meta.get(key)!r}")
    for name, entry in old_meta["tasks"].items():
        other = new_meta["tasks"].get(name)
        if other is None:
            problems.append(f"task {name}: missing")
        elif json.dumps(other) != json.dumps(entry):  # key order included
            problems.append(f"task {name}: entry differs")
    return problems, len(rows), len(old_meta["tasks"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    problems, n_rows, n_tasks = compare(args.old, args.new)
    for problem in problems:
        print(problem)
    print(f"{n_rows} rows files and {n_tasks} task entries compared: "
          f"{'identical' if not problems else f'{len(problems)} differences'}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
