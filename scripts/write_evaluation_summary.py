"""Write a generator's ``evaluation_summary.json`` from an existing evaluation report, without rerunning the
evaluation: the function ``evaluate_generator.py --update_card`` calls
(``text2lora.evaluation.summary.write_evaluation_summary``). Adapter cards quote it.

    PYTHONPATH=. python scripts/write_evaluation_summary.py --report reports/evaluation.json  # the shipped generator
"""

import argparse
import json
import sys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--report", default="reports/evaluation.json", help="evaluation.json written by "
                                                                      "evaluate_generator.py for this generator.")
    p.add_argument("--generator", default=None, help="Generator directory (default: the shipped one, "
                                                     "text2lora/data/generator).")
    args = p.parse_args(argv)

    from text2lora import SHIPPED_GENERATOR
    from text2lora.evaluation.summary import write_evaluation_summary

    with open(args.report, encoding="utf-8") as f:
        report = json.load(f)
    path = write_evaluation_summary(args.generator or SHIPPED_GENERATOR, report)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    try:
        main()
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
