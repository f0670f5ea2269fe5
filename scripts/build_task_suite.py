"""Build text2lora's default task suite from the raw public datasets in ``../shared/data/raw``.

Every task is binary: label 1 means "the text matches the task description", label 0 means it does not.
Negatives are drawn from the other labels of the same dataset. Train and val are balanced; test keeps every
test positive (capped for size) and as many negatives, with at least 100 rows where the data allows.

Output (committed, read at run time by ``text2lora.data.tasks``):
    text2lora/data/suite/rows/<dataset>.jsonl.gz   rows {task, split, text, text_pair, label}
    text2lora/data/suite/rows/<dataset>_auxiliary.jsonl.gz   train/val rows of the auxiliary tasks
    text2lora/data/suite/tasks.json                registry (family, dataset, split, label meaning, licence)
    text2lora/data/suite/LICENSES.md               licence notes for every source dataset

Descriptions are written by hand in text2lora/data/suite/descriptions/*.json and merged by ``text2lora.data.tasks``:
per task, "train" (7) and "heldout" (3, never trained on) and, for seen tasks, "augmented" (8 more training
paraphrases, written by LLM helpers from the task metadata and the "train" list only; see the suite's README.md).

Auxiliary tasks (split "auxiliary"): the intents of CLINC150 and BANKING77 that the suite leaves out (the suite keeps
CLINC_CAP and BANKING_CAP of them). They have train and val rows only, no zoo adapter, and are never evaluated; they
are extra labelled tasks for the head generator (``train_head.py --auxiliary_tasks``). They do not change the
seen/unseen split, which is drawn over the suite's own tasks only.

Usage:
    python scripts/build_task_suite.py --raw ../shared/data/raw
"""

import argparse
import csv
import gzip
import hashlib
import json
import os
import random
from collections import defaultdict
from pathlib import Path

SEED = 0
TRAIN_CAP = 512  # balanced: 256 positives + 256 negatives
VAL_CAP = 128  # balanced: 64 + 64
TEST_POS_CAP = 200
TEST_MIN_ROWS = 100
UNSEEN_FRACTION = 0.2
UNSEEN_FAMILY = "citation_intent"

# Licence notes, quoted from ../shared/data/raw/SOURCES.md (they travel with the derived data).
LICENSES = {
    "tweeteval": "TweetEval (cardiffnlp/tweeteval): 'released without any restrictions', but the licences of the "
    "original SemEval datasets and Twitter's terms apply.",
    "mr": "MR movie-review polarity (Pang & Lee 2005), via harvardnlp/sent-conv-torch: licence unstated "
    "(repo code MIT).",
    "cr": "CR customer reviews (Hu & Liu 2004), via harvardnlp/sent-conv-torch: licence unstated (repo code MIT).",
    "subj": "SUBJ subjectivity (Pang & Lee 2004), via harvardnlp/sent-conv-torch: licence unstated (repo code MIT).",
    "mpqa": "MPQA opinion polarity, via harvardnlp/sent-conv-torch: licence unstated (repo code MIT).",
    "trec": "TREC question classification (Li & Roth 2002), via harvardnlp/sent-conv-torch: licence unstated.",
    "sst": "Stanford Sentiment Treebank (sentence level), via harvardnlp/sent-conv-torch: licence unstated.",
    "clinc150": "CLINC150 (clinc/oos-eval): Creative Commons Attribution 3.0 Unported.",
    "banking77": "BANKING77 (PolyAI-LDN/task-specific-datasets): Creative Commons Attribution 4.0 International.",
    "snips": "SNIPS intents: licence unstated.",
    "davidson_hate_offensive": "Davidson et al. hate/offensive tweets: MIT (repo).",
    "clickbait": "Clickbait headlines: MIT (repo).",
    "cola": "CoLA (GLUE): licence unstated.",
    "rte": "RTE (GLUE): licence unstated.",
    "wnli": "WNLI (GLUE): licence unstated.",
    "mrpc": "MRPC: Microsoft Research Shared Source licence, NON-COMMERCIAL use only.",
    "ag_news": "AG News: research and other NON-COMMERCIAL use only (dataset readme).",
    "dbpedia14": "DBpedia-14: Creative Commons Attribution-ShareAlike and GNU FDL (SHARE-ALIKE).",
    "emotion_carer": "CARER emotion (dair-ai): 'educational and research purposes only'.",
    "emotion_yin": "Unified emotion benchmark (Yin et al. 2019): licence unstated; pooled corpora keep their terms.",
    "situation_yin": "Situation typing (Yin et al. 2019): licence unstated.",
    "goemotions": "GoEmotions (Demszky et al. 2020): dataset licence unstated (copy repo Apache-2.0).",
    "stackoverflow": "StackOverflow titles (Xu et al. 2015): licence unstated; cite the paper and acknowledge Kaggle.",
    "scicite": "SciCite (allenai/scibert): licence unstated (repo code Apache-2.0).",
    "acl_arc": "ACL-ARC citation function (allenai/scibert): licence unstated (repo code Apache-2.0).",
}

CLINC_CAP = 40
BANKING_CAP = 35
# Left out of the auxiliary tasks: the same intent as an unseen suite task of another dataset, so that training on
# auxiliary tasks never shows the head generator an unseen task under another name.
AUXILIARY_EXCLUDE = {
    "clinc_update_playlist",  # snips_addtoplaylist
    "clinc_restaurant_reservation",  # snips_bookrestaurant
    "clinc_exchange_rate",  # banking_exchange_rate
}


def read_lines(path, encoding="utf-8", keep_empty=False):
    with open(path, "rb") as f:
        data = f.read()
    lines = [line.strip() for line in data.decode(encoding, errors="replace").split("\n")]
    if keep_empty:  # line-aligned files: keep positions, drop only the final newline
        return lines[:-1] if lines and lines[-1] == "" else lines
    return [line for line in lines if line]


def stable_split(items, seed, fractions=(0.7, 0.1, 0.2)):
    """Shuffle deterministically and cut into train/val/test."""
    items = list(items)
    random.Random(seed).shuffle(items)
    n = len(items)
    a = int(n * fractions[0])
    b = a + int(n * fractions[1])
    return {"train": items[:a], "val": items[a:b], "test": items[b:]}


# Every loader returns (splits, label_names, info) where splits maps split -> list of (text, text_pair, labels_set).


def load_two_file(raw, folder, pos_file, neg_file, names, encoding="latin-1"):
    rows = [(t, None, {names[1]}) for t in read_lines(raw / folder / pos_file, encoding)]
    rows += [(t, None, {names[0]}) for t in read_lines(raw / folder / neg_file, encoding)]
    return stable_split(rows, SEED)


def load_mr(raw):
    return load_two_file(raw, "mr", "rt-polarity.pos.txt", "rt-polarity.neg.txt", ["negative", "positive"])


def load_cr(raw):
    return load_two_file(raw, "cr", "custrev.pos.txt", "custrev.neg.txt", ["negative", "positive"])


def load_subj(raw):
    return load_two_file(raw, "subj", "subj.subjective.txt", "subj.objective.txt", ["objective", "subjective"])


def load_mpqa(raw):
    return load_two_file(raw, "mpqa", "mpqa.pos.txt", "mpqa.neg.txt", ["negative", "positive"])


def load_clickbait(raw):
    return load_two_file(
        raw, "clickbait", "clickbait_data.txt", "non_clickbait_data.txt", ["not_clickbait", "clickbait"], "utf-8"
    )


def load_sst(raw, variant):
    names = ["negative", "positive"] if variant == "binary" else [
        "very_negative", "negative", "neutral", "positive", "very_positive"]
    splits = {}
    for split, fname in (("train", "train"), ("val", "dev"), ("test", "test")):
        rows = []
        for line in read_lines(raw / "sst" / f"stsa.{variant}.{fname}.txt"):
            label, text = line.split(" ", 1)
            rows.append((text, None, {names[int(label)]}))
        splits[split] = rows
    return splits


def load_trec(raw):
    names = {"ABBR": "abbreviation", "DESC": "description", "ENTY": "entity", "HUM": "human",
             "LOC": "location", "NUM": "numeric"}
    out = {}
    for split, fname in (("train", "TREC.train.txt"), ("test", "TREC.test.txt")):
        rows = []
        for line in read_lines(raw / "trec" / fname, "latin-1"):
            label, text = line.split(" ", 1)
            rows.append((text, None, {names[label.split(":")[0]]}))
        out[split] = rows
    random.Random(SEED).shuffle(out["train"])
    n_val = len(out["train"]) // 10
    out["val"] = out["train"][:n_val]
    out["train"] = out["train"][n_val:]
    return out


def load_tweeteval(raw, task):
    base = raw / "tweeteval" / task
    names = {}
    mapping = base.parent / "mapping.txt" if task.startswith("stance/") else base / "mapping.txt"
    for line in read_lines(mapping):
        parts = line.split("\t")
        names[int(parts[0])] = parts[-1].strip() if len(parts) == 2 else parts[1]
    out = {}
    for split in ("train", "val", "test"):
        text_path = base / f"{split}_text.txt"
        if not text_path.exists():
            continue
        texts = read_lines(text_path, keep_empty=True)
        labels = read_lines(base / f"{split}_labels.txt", keep_empty=True)
        if len(texts) != len(labels):
            raise ValueError(f"tweeteval/{task}/{split}: {len(texts)} texts but {len(labels)} labels")
        out[split] = [(t, None, {names[int(lab)]}) for t, lab in zip(texts, labels) if t]
    if "train" not in out:  # sentiment: the train text is missing from the snapshot; carve train out of val.
        rows = out.pop("val")
        random.Random(SEED).shuffle(rows)
        out["val"] = rows[:400]
        out["train"] = rows[400:]
    return out


def load_clinc(raw):
    data = json.loads((raw / "clinc150" / "data_full.json").read_text())
    domains = json.loads((raw / "clinc150" / "domains.json").read_text())
    # Keep CLINC_CAP intents, spread over the 10 domains (4 each, in file order).
    keep = set()
    for intents in domains.values():
        keep.update(intents[: CLINC_CAP // len(domains)])
    out = {}
    for split, key in (("train", "train"), ("val", "val"), ("test", "test")):
        out[split] = [(t, None, {lab}) for t, lab in data[key]]
    return out, sorted(keep)


def load_banking(raw):
    def read(path):
        with open(path, newline="", encoding="utf-8") as f:
            return [(r["text"], None, {r["category"]}) for r in csv.DictReader(f)]

    train = read(raw / "banking77" / "train.csv")
    random.Random(SEED).shuffle(train)
    n_val = len(train) // 10
    cats = json.loads((raw / "banking77" / "categories.json").read_text())
    keep = sorted(cats[i] for i in range(0, len(cats), 2))[:BANKING_CAP]
    return {"train": train[n_val:], "val": train[:n_val], "test": read(raw / "banking77" / "test.csv")}, keep


def load_snips(raw):
    out = {}
    for split, folder in (("train", "train"), ("val", "valid"), ("test", "test")):
        texts = read_lines(raw / "snips" / folder / "seq.in.txt")
        labels = read_lines(raw / "snips" / folder / "label.txt")
        out[split] = [(t, None, {lab}) for t, lab in zip(texts, labels)]
    return out


def load_davidson(raw):
    names = ["hate_speech", "offensive_language", "neither"]
    rows = []
    with open(raw / "davidson_hate_offensive" / "labeled_data.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append((r["tweet"], None, {names[int(r["class"])]}))
    return stable_split(rows, SEED)


def load_cola(raw):
    def read(name):
        rows = []
        for line in read_lines(raw / "cola" / name):
            parts = line.split("\t")
            rows.append((parts[3], None, {"acceptable" if parts[1] == "1" else "unacceptable"}))
        return rows

    train = read("train.tsv") + read("val.tsv")
    random.Random(SEED).shuffle(train)
    return {"train": train[1000:], "val": train[:1000], "test": read("dev.tsv")}


def load_pairs_glue(raw, folder, label_map):
    def read(name, header):
        rows = []
        lines = read_lines(raw / folder / name)
        for line in lines[1:] if header else lines:
            parts = line.split("\t")
            rows.append((parts[1], parts[2], {label_map[parts[-1].strip()]}))
        return rows

    train = read("train.tsv", True) + read("val.tsv", False)
    random.Random(SEED).shuffle(train)
    n_val = max(len(train) // 10, 50)
    return {"train": train[n_val:], "val": train[:n_val], "test": read("dev.tsv", True)}


def load_mrpc(raw):
    def read(name):
        rows = []
        for line in read_lines(raw / "mrpc" / name, "utf-8-sig")[1:]:
            parts = line.split("\t")
            rows.append((parts[3], parts[4], {"paraphrase" if parts[0] == "1" else "not_paraphrase"}))
        return rows

    train = read("msr_paraphrase_train.txt")
    random.Random(SEED).shuffle(train)
    return {"train": train[400:], "val": train[:400], "test": read("msr_paraphrase_test.txt")}


def load_ag_news(raw):
    names = ["world", "sports", "business", "sci_tech"]
    rows = []
    with open(raw / "ag_news" / "test.csv", newline="", encoding="utf-8") as f:
        for r in csv.reader(f):
            rows.append((f"{r[1]}. {r[2]}".replace("\\", " "), None, {names[int(r[0]) - 1]}))
    return stable_split(rows, SEED)


def load_dbpedia(raw):
    names = [n.strip() for n in read_lines(raw / "dbpedia14" / "classes.txt")]
    rows = []
    with open(raw / "dbpedia14" / "train.csv", newline="", encoding="utf-8") as f:
        for r in csv.reader(f):
            rows.append((r[1].replace("\t", " ")[:600], None, {names[int(r[0])]}))
    return stable_split(rows, SEED)


def load_emotion_carer(raw):
    out = {}
    for split in ("train", "val", "test"):
        rows = []
        for line in read_lines(raw / "emotion_carer" / f"{split}.txt")[1:]:
            text, label = line.rsplit(";", 1)
            rows.append((text, None, {label}))
        out[split] = rows
    return out


def load_emotion_yin(raw):
    names = read_lines(raw / "emotion_yin" / "classes.txt")
    out = {}
    for split in ("train", "test"):
        rows = []
        for line in read_lines(raw / "emotion_yin" / f"{split}.txt"):
            label, text = line.split("\t", 1)
            rows.append((text, None, {names[int(label)]}))
        out[split] = rows
    random.Random(SEED).shuffle(out["train"])
    out["val"] = out["train"][:2000]
    out["train"] = out["train"][2000:]
    return out


def load_situation(raw):
    names = read_lines(raw / "situation_yin" / "classes.txt")
    out = {}
    for split, fname in (("train", "train"), ("val", "dev"), ("test", "test")):
        rows = []
        for line in read_lines(raw / "situation_yin" / f"{fname}.txt"):
            labels, text = line.split("\t", 1)
            rows.append((text, None, {names[int(i)] for i in labels.split()}))
        out[split] = rows
    return out


def load_goemotions(raw):
    names = read_lines(raw / "goemotions" / "labels.txt")
    out = {}
    for split, fname in (("train", "train"), ("val", "dev"), ("test", "test")):
        rows = []
        for line in read_lines(raw / "goemotions" / f"{fname}.tsv"):
            text, labels, _ = line.split("\t")
            rows.append((text, None, {names[int(i)] for i in labels.split(",")}))
        out[split] = rows
    return out


def load_stackoverflow(raw):
    names = ["wordpress", "oracle", "svn", "apache", "excel", "matlab", "visual-studio", "cocoa", "osx", "bash",
             "spring", "hibernate", "scala", "sharepoint", "ajax", "qt", "drupal", "linq", "haskell", "magento"]
    titles = read_lines(raw / "stackoverflow" / "title_StackOverflow.txt")
    labels = read_lines(raw / "stackoverflow" / "label_StackOverflow.txt")
    rows = [(t, None, {names[int(lab) - 1]}) for t, lab in zip(titles, labels)]
    return stable_split(rows, SEED)


def load_jsonl_citation(raw, folder):
    out = {}
    for split, fname in (("train", "train"), ("val", "dev"), ("test", "test")):
        rows = []
        for line in read_lines(raw / folder / f"{fname}.jsonl"):
            r = json.loads(line)
            rows.append((r["text"].replace("\n", " "), None, {str(r["label"]).lower()}))
        out[split] = rows
    return out


# (dataset, source folder, family, text kind, loader, labels to make tasks for: None = all)
def dataset_specs(raw):
    specs = []

    def add(name, source, family, kind, splits, labels=None, prefix=None, auxiliary=False):
        specs.append(dict(name=name, source=source, family=family, kind=kind, splits=splits, labels=labels,
                          prefix=prefix or name, auxiliary=auxiliary))

    add("mr", "mr", "sentiment", "movie review sentence", load_mr(raw))
    add("cr", "cr", "sentiment", "customer product review", load_cr(raw))
    add("mpqa", "mpqa", "sentiment", "short opinion phrase", load_mpqa(raw))
    add("sst2", "sst", "sentiment", "movie review sentence", load_sst(raw, "binary"))
    add("sst5", "sst", "sentiment", "movie review sentence (five-point scale)", load_sst(raw, "fine"))
    add("tweet_sentiment", "tweeteval", "sentiment", "tweet", load_tweeteval(raw, "sentiment"))
    add("tweet_irony", "tweeteval", "sentiment", "tweet", load_tweeteval(raw, "irony"))
    add("tweet_emotion", "tweeteval", "emotion", "tweet", load_tweeteval(raw, "emotion"))
    add("carer_emotion", "emotion_carer", "emotion", "tweet", load_emotion_carer(raw))
    add("yin_emotion", "emotion_yin", "emotion", "short text (tweets, event reports, stories)",
        load_emotion_yin(raw), labels=None)
    add("goemotions", "goemotions", "emotion", "Reddit comment", load_goemotions(raw))
    add("davidson", "davidson_hate_offensive", "hate_offensive", "tweet", load_davidson(raw))
    add("tweet_hate", "tweeteval", "hate_offensive", "tweet", load_tweeteval(raw, "hate"))
    add("tweet_offensive", "tweeteval", "hate_offensive", "tweet", load_tweeteval(raw, "offensive"))
    clinc, clinc_keep = load_clinc(raw)
    add("clinc", "clinc150", "intent", "user request to a virtual assistant", clinc, labels=clinc_keep,
        auxiliary=True)
    banking, banking_keep = load_banking(raw)
    add("banking", "banking77", "intent", "online-banking customer query", banking, labels=banking_keep,
        auxiliary=True)
    add("snips", "snips", "intent", "voice-assistant command", load_snips(raw))
    add("agnews", "ag_news", "topic", "news article", load_ag_news(raw))
    add("dbpedia", "dbpedia14", "topic", "Wikipedia article abstract", load_dbpedia(raw))
    add("stackoverflow", "stackoverflow", "topic", "StackOverflow question title", load_stackoverflow(raw))
    add("trec", "trec", "question_type", "question", load_trec(raw))
    add("subj", "subj", "subjectivity", "movie-related sentence", load_subj(raw))
    add("cola", "cola", "acceptability", "English sentence", load_cola(raw))
    add("scicite", "scicite", "citation_intent", "citing sentence from a scientific paper",
        load_jsonl_citation(raw, "scicite"))
    add("aclarc", "acl_arc", "citation_intent", "citation context from an NLP paper",
        load_jsonl_citation(raw, "acl_arc"))
    add("clickbait", "clickbait", "clickbait", "news headline", load_clickbait(raw))
    for target in ("abortion", "atheism", "climate", "feminist", "hillary"):
        add(f"stance_{target}", "tweeteval", "stance", f"tweet about {target}",
            load_tweeteval(raw, f"stance/{target}"), labels=["against", "favor"])
    add("situation", "situation_yin", "situation", "sentence from a disaster or crisis report",
        load_situation(raw), labels=None)
    add("rte", "rte", "sentence_pair", "premise and hypothesis pair",
        load_pairs_glue(raw, "rte", {"entailment": "entailment", "not_entailment": "not_entailment"}))
    add("wnli", "wnli", "sentence_pair", "sentence and pronoun-resolved hypothesis pair",
        load_pairs_glue(raw, "wnli", {"1": "entailment", "0": "not_entailment"}))
    add("mrpc", "mrpc", "sentence_pair", "pair of news sentences", load_mrpc(raw))
    return specs


def slug(label):
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")


def write_rows(path, rows):
    """Write rows as gzipped JSONL (deterministic bytes: mtime 0), atomically."""
    tmp = path.with_suffix(".tmp")
    with gzip.GzipFile(tmp, "wb", mtime=0) as f:
        for r in rows:
            f.write((json.dumps(r, ensure_ascii=False) + "\n").encode())
    os.replace(tmp, path)


def binary_task(splits, label, task, split_names):
    """(rows, counts) of one binary task over ``split_names`` (train/val balanced, test as make_binary keeps it),
    or None when a split has fewer than 8 rows of a class."""
    rng = random.Random(int(hashlib.sha256(task.encode()).hexdigest()[:8], 16))
    rows, counts = [], {}
    for split in split_names:
        binary = make_binary(splits[split], label, rng, TRAIN_CAP if split == "train" else VAL_CAP,
                             balanced=split != "test")
        n_pos = sum(r[2] for r in binary)
        if n_pos < 8 or len(binary) - n_pos < 8:
            return None
        counts[split] = {"rows": len(binary), "positives": n_pos}
        rows += [dict(task=task, split=split, text=t, text_pair=p, label=y) for t, p, y in binary]
    return rows, counts


def make_binary(rows, label, rng, cap, balanced=True):
    pos = [r for r in rows if label in r[2]]
    neg = [r for r in rows if label not in r[2]]
    rng.shuffle(pos)
    rng.shuffle(neg)
    if balanced:
        k = min(len(pos), len(neg), cap // 2)
        pos, neg = pos[:k], neg[:k]
    else:  # test: every positive (capped), as many negatives, at least TEST_MIN_ROWS rows
        pos = pos[:TEST_POS_CAP]
        neg = neg[: max(len(pos), TEST_MIN_ROWS - len(pos))]
    out = [(t, p, 1) for t, p, _ in pos] + [(t, p, 0) for t, p, _ in neg]
    rng.shuffle(out)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", default="../shared/data/raw", type=Path)
    parser.add_argument("--out", default="text2lora/data/suite", type=Path)
    args = parser.parse_args()

    rows_dir = args.out / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    registry = {}
    for spec in dataset_specs(args.raw):
        splits = spec["splits"]
        all_labels = sorted({lab for rows in splits.values() for r in rows for lab in r[2]})
        labels = spec["labels"] if spec["labels"] is not None else all_labels
        out_rows, auxiliary_rows = [], []
        extra = [lab for lab in all_labels if lab not in set(labels)] if spec["auxiliary"] else []
        for label in labels + extra:
            if label in ("out-of-domain", "oos") or f"{spec['prefix']}_{slug(label)}" in AUXILIARY_EXCLUDE:
                continue
            task = f"{spec['prefix']}_{slug(label)}"
            auxiliary = label in extra  # train/val only: auxiliary tasks are never evaluated
            built = binary_task(splits, label, task, ("train", "val") if auxiliary else ("train", "val", "test"))
            if built is None:
                print(f"skip {'auxiliary ' if auxiliary else ''}{task}: too few rows")
                continue
            (auxiliary_rows if auxiliary else out_rows).extend(built[0])
            registry[task] = dict(
                dataset=spec["name"], source=spec["source"], family=spec["family"], label=label,
                text_kind=spec["kind"], pair=spec["name"] in ("rte", "wnli", "mrpc"), counts=built[1],
                license=LICENSES[spec["source"]],
            )
            if auxiliary:
                registry[task].update(rows_file=f"{spec['name']}_auxiliary", split="auxiliary")
        write_rows(rows_dir / f"{spec['name']}.jsonl.gz", out_rows)
        if auxiliary_rows:
            write_rows(rows_dir / f"{spec['name']}_auxiliary.jsonl.gz", auxiliary_rows)

    # Seen/unseen split: one whole family unseen, plus UNSEEN_FRACTION of every other family (at least one task).
    by_family = defaultdict(list)
    for name, info in registry.items():
        if info.get("split") != "auxiliary":
            by_family[info["family"]].append(name)
    for family, names in sorted(by_family.items()):
        names = sorted(names)
        if family == UNSEEN_FAMILY:
            unseen = set(names)
        else:
            k = max(1, round(len(names) * UNSEEN_FRACTION)) if len(names) >= 3 else 0
            unseen = set(random.Random(f"{SEED}-{family}").sample(names, k))
        for name in names:
            registry[name]["split"] = "unseen" if name in unseen else "seen"

    meta = dict(seed=SEED, train_cap=TRAIN_CAP, val_cap=VAL_CAP, test_positive_cap=TEST_POS_CAP,
                unseen_family=UNSEEN_FAMILY, unseen_fraction=UNSEEN_FRACTION, tasks=dict(sorted(registry.items())))
    tmp = args.out / "tasks.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out / "tasks.json")
    lic = ["# Licences of the task suite's source datasets", "",
           "Every row in rows/ is derived from these public datasets (see scripts/build_task_suite.py).", ""]
    lic += [f"- **{k}**: {v}" for k, v in sorted(LICENSES.items())]
    (args.out / "LICENSES.md").write_text("\n".join(lic) + "\n")
    n_unseen = sum(1 for t in registry.values() if t["split"] == "unseen")
    n_auxiliary = sum(1 for t in registry.values() if t["split"] == "auxiliary")
    n_sources = len({t["source"] for t in registry.values()})
    print(f"{len(registry) - n_auxiliary} tasks (+{n_auxiliary} auxiliary) from {n_sources} datasets, "
          f"{len(by_family)} families, {n_unseen} unseen")
    for family, names in sorted(by_family.items()):
        print(f"  {family:16s} {len(names):3d}")


if __name__ == "__main__":
    main()
