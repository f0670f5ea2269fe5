"""Set the routing threshold of a generator's default path (``method="auto"``) in its model_index.json.

    python scripts/set_routing_threshold.py --generator text2lora/data/generator \
        --selection reports/ablations/routing_val.json

``--selection`` takes the threshold that ``research/routing_val.py`` chose on val splits; ``--threshold`` sets one by
hand (``none`` turns routing off, so ``"auto"`` samples the denoiser).
"""

import argparse
import json
import sys

from text2lora.pipelines.loading import set_routing_threshold


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", required=True, help="Generator folder.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--selection", help="routing_val.json written by research/routing_val.py.")
    source.add_argument("--threshold", help="A cosine in [-1, 1], or 'none'.")
    args = parser.parse_args(argv)
    try:
        if args.selection:
            with open(args.selection) as f:
                threshold = json.load(f)["chosen_threshold"]
        elif args.threshold.lower() == "none":
            threshold = None
        else:
            try:
                threshold = float(args.threshold)
            except ValueError:
                raise ValueError(f"--threshold must be a number in [-1, 1] or 'none', got {args.threshold!r}.") \
                    from None
        path = set_routing_threshold(args.generator, threshold)
    except (OSError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"routing_threshold = {threshold} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
