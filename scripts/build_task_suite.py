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

Splits of a task ("split" in tasks.json):
    seen, unseen     the suite: the first-round datasets (FIRST_ROUND_SOURCES). A fixed draw marks one whole family
                     (UNSEEN_FAMILY) and UNSEEN_FRACTION of every other family unseen; it is drawn over the first-round
                     tasks only, so later datasets never change it.
    unseen_dataset   leave-dataset-out: whole second-round datasets that no component ever trains on, one per family of
                     HELDOUT_FAMILIES, chosen by ``heldout_datasets``. Their tasks have train/val/test rows (the zoo
                     fine-tunes adapters on them for evaluation only).
    auxiliary        extra labelled training tasks with train and val rows only, no zoo adapter, never evaluated
                     (``train_head.py --auxiliary_tasks``): the CLINC150/BANKING77 intents the suite leaves out (it
                     keeps CLINC_CAP and BANKING_CAP of them; rows in <dataset>_auxiliary.jsonl.gz), every task of the
                     other second-round datasets (rows in <dataset>.jsonl.gz), and the pooled concept tasks (family
                     "pooled", rows in pooled.jsonl.gz): one concept over several datasets (POOLED_CONCEPTS), built
                     only from the train/val rows of seen and auxiliary tasks.

No unseen_dataset text is in any auxiliary or pooled row: a second-round held-out dataset drops the texts that occur in
a first-round dataset (those rows are frozen), and the other second-round datasets drop the held-out datasets' texts.

Usage:
    python scripts/build_task_suite.py --raw ../shared/data/raw
"""

import argparse
import csv
import fnmatch
import gzip
import hashlib
import html
import json
import os
import random
import re
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
    # Second round.
    "sarcasm_figlang2020": "FigLang 2020 sarcasm shared task (EducationalTestingService/sarcasm): licence unstated "
    "(no licence file; the README asks users to cite the shared-task report).",
    "liar": "LIAR (Wang 2017), via nishitpatel01/Fake_News_Detection: 'The original sources retain the copyright of "
    "the data. ... You are allowed to use this dataset for research purposes only.' RESEARCH-ONLY (repo code MIT).",
    "politeness_stanford": "Stanford Politeness Corpus (sudhof/politeness): licence unstated for the data "
    "(repo code Apache-2.0).",
    "medical_abstracts": "Medical Abstracts TC corpus (sebischair/Medical-Abstracts-TC-Corpus): Creative Commons "
    "Attribution-ShareAlike 3.0 Unported (SHARE-ALIKE).",
    "symptom2disease": "Symptom2Disease (Kaggle), via t4ai/nlp-medical-diagnosis-classifier: licence unstated.",
    "humor_hahackathon": "HaHackathon, SemEval-2021 Task 7, via Ilovecodingforever/EECS-487-Humor-Classification: "
    "licence unstated.",
    "meld": "MELD (declare-lab/MELD): GNU GPL v3 (repository LICENSE); the README states no separate data licence.",
    "insult_impermium": "Kaggle/Impermium 'Detecting Insults in Social Commentary', via "
    "AWConant/internet-hate-comments: licence unstated (Kaggle competition data).",
    "atis": "ATIS intents, via jianguoz/Few-Shot-Intent-Detection: licence unstated (the original ATIS corpus is an "
    "LDC release).",
    "airline_sentiment": "Twitter US Airline Sentiment (Figure Eight, via Kaggle), via eidehua/Real-Time-SciVi: "
    "licence unstated.",
    "disaster_tweets": "Kaggle 'NLP with Disaster Tweets', via J-Dymond/COMP6208: licence unstated (derives from "
    "Figure Eight's 'Disasters on social media' set).",
    "dailydialog": "DailyDialog (Li et al. 2017), via snakeztc/NeuralDialog-LAED: licence unstated in the copied files "
    "(repo code Apache-2.0).",
    "swda": "Switchboard Dialogue Act Corpus, via NathanDuran/Switchboard-Corpus: licence unstated for the data "
    "(repo code GPL-3.0).",
    "bbc_news": "BBC News (Greene & Cunningham 2006; Kaggle 'BBC News Train'): licence unstated (the article text is "
    "BBC copyright).",
    "ibm_argkp_stance": "IBM ArgKP-2021 (IBM/KPA_2021_shared_task): '(c) Copyright IBM 2020. Released under Community "
    "Data License Agreement - Sharing, Version 1.0' (SHARE-ALIKE style).",
    "legalbench": "LegalBench Unfair ToS and Overruling (HazyResearch/legalbench): CC BY 4.0 (task READMEs).",
    "cefr_sp": "CEFR-SP (yukiar/CEFR-SP): 'Each subset is distributed under the same license of the original corpus. "
    "Wiki-Auto: CC BY-SA 3.0; SCoRE: CC BY-NC-SA 4.0' (SHARE-ALIKE; the SCoRE portion is NON-COMMERCIAL).",
    "amazon_alexa": "Amazon Alexa reviews (Kaggle), via NikhitaMethwani/Amazon-Alexa-Review-Using-Sentiment-Analysis: "
    "licence unstated.",
    "cyberbullying": "Cyberbullying tweets (Wang, Fu & Lu 2020), 9,996-row subsample, via "
    "PanchamiVaradaraju/Cyberbullying-detection-in-Social-Media-Comments: licence unstated.",
    "claimbuster": "ClaimBuster two-class split (utaresearch/claimbuster-spotter): 'The work in this repository is "
    "released under the GNU General Public License v3.0'.",
}

# The first collection round: the suite proper (seen/unseen). The seen/unseen draw is over these sources' tasks only.
FIRST_ROUND_SOURCES = (
    "tweeteval", "mr", "cr", "subj", "mpqa", "trec", "sst", "clinc150", "banking77", "snips", "davidson_hate_offensive",
    "clickbait", "cola", "rte", "wnli", "mrpc", "ag_news", "dbpedia14", "emotion_carer", "emotion_yin", "situation_yin",
    "goemotions", "stackoverflow", "scicite", "acl_arc",
)
# Leave-dataset-out: per family, the second-round dataset with the most labelled rows is held out
# (``heldout_datasets``).
HELDOUT_FAMILIES = ("sentiment", "emotion", "topic", "intent", "hate_offensive", "situation")
TEXT_CAP = 600  # characters; longer second-round texts are cut at a word boundary
# Second-round tasks left out of the auxiliary tasks: the same concept and kind of text as an unseen task (as
# AUXILIARY_EXCLUDE), so that training on auxiliary tasks never shows the generator an unseen task under another name.
SECOND_ROUND_EXCLUDE = {
    "bbc_news_business": "agnews_business",  # business news article
}
# Pooled concept tasks (family "pooled", split "auxiliary"): positives are the label-1 train/val rows of the "positive"
# member tasks, negatives those of the "negative" member tasks. Members: the tasks of ``families`` whose name matches a
# pattern and whose split is in POOLED_MEMBER_SPLITS (never unseen, never unseen_dataset).
POOLED_MEMBER_SPLITS = ("seen", "auxiliary")
_EMOTIONS = ("*_joy", "*_happiness", "*_anger", "*_sadness", "*_fear", "*_surprise", "*_neutral")
POOLED_CONCEPTS = {
    "positive_sentiment": dict(families=("sentiment",), positive=("*_positive", "*_positive_feedback"),
                               negative=("*_negative", "*_negative_feedback")),
    "negative_sentiment": dict(families=("sentiment",), positive=("*_negative", "*_negative_feedback"),
                               negative=("*_positive", "*_positive_feedback")),
    "hateful_or_offensive": dict(
        families=("hate_offensive",),
        positive=("davidson_hate_speech", "davidson_offensive_language", "tweet_hate_hate", "tweet_offensive_offensive",
                  "impermium_insult", "cyberbullying_age", "cyberbullying_ethnicity", "cyberbullying_gender",
                  "cyberbullying_religion"),
        negative=("davidson_neither", "tweet_offensive_not_offensive", "cyberbullying_not_cyberbullying")),
    "sports_topic": dict(families=("topic",), positive=("agnews_sports", "bbc_news_sport"),
                         negative=("agnews_world", "agnews_business", "agnews_sci_tech", "bbc_news_business",
                                   "bbc_news_politics", "bbc_news_tech", "bbc_news_entertainment")),
    "technology_topic": dict(families=("topic",), positive=("agnews_sci_tech", "bbc_news_tech"),
                             negative=("agnews_world", "agnews_sports", "agnews_business", "bbc_news_sport",
                                       "bbc_news_business", "bbc_news_politics", "bbc_news_entertainment")),
    "joy": dict(families=("emotion",), positive=("*_joy", "*_happiness"),
                negative=tuple(p for p in _EMOTIONS if p not in ("*_joy", "*_happiness", "*_surprise"))),
    "anger": dict(families=("emotion",), positive=("*_anger",), negative=tuple(p for p in _EMOTIONS if p != "*_anger")),
    "sadness": dict(families=("emotion",), positive=("*_sadness",),
                    negative=tuple(p for p in _EMOTIONS if p != "*_sadness")),
    "fear": dict(families=("emotion",), positive=("*_fear",), negative=tuple(p for p in _EMOTIONS if p != "*_fear")),
    "question": dict(families=("dialogue_act", "question_type"),
                     positive=("swda_*question", "dailydialog_question", "trec_*"),
                     negative=("swda_statement_*", "swda_backchannel", "swda_agree_accept", "swda_appreciation",
                               "dailydialog_inform", "dailydialog_directive", "dailydialog_commissive")),
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


# Second-round helpers and loaders. They return splits like the loaders above; ``finish`` drops duplicate texts.


def clean(text, cap=TEXT_CAP):
    """One line of text, cut at a word boundary after at most ``cap`` characters."""
    text = " ".join(text.split())
    if len(text) > cap:
        cut = text[:cap]
        text = cut[: cut.rfind(" ")] if " " in cut else cut
    return text


def detokenize(text):
    """Undo the spaces of tokenised text at punctuation and contractions ('here ?' -> 'here?', 'it ’ s' -> 'it’s')."""
    text = re.sub(r"(\w) ([’']) (s|t|re|ve|ll|d|m)\b", r"\1\2\3", text, flags=re.IGNORECASE)
    return re.sub(r" ([,.?!;:)])", r"\1", re.sub(r"\( ", "(", text))


_UTF8_AS_LATIN1 = re.compile(
    "[\u00c2-\u00df][\u0080-\u00bf]|[\u00e0-\u00ef][\u0080-\u00bf]{2}|[\u00f0-\u00f4][\u0080-\u00bf]{3}")


def fix_utf8_as_latin1(text):
    """Repair UTF-8 bytes that were decoded as Latin-1 ('itâ\\x80\\x99s' -> 'it’s'), also when that happened twice;
    other text is kept."""
    def repair(match):
        try:
            return match.group().encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return match.group()

    for _ in range(3):
        text, before = _UTF8_AS_LATIN1.sub(repair, text), text
        if text == before:
            break
    return text


def fix_utf8_as_cp1252(text):
    """Repair a text whose UTF-8 bytes were decoded as Windows-1252, once or more ('worldÃ¢â‚¬â„¢s' -> 'world’s');
    a text that does not round-trip is kept."""
    for _ in range(3):
        try:
            text = text.encode("cp1252").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            break
    return text


# Mojibake of the Kaggle disaster tweets (SOURCES.md: inherited from the source), mapped to the intended characters.
DISASTER_MOJIBAKE = {"\x89Û_": "...", "\x89Ûª": "'", "\x89Û÷": "'", "\x89ÛÏ": '"', "\x89Û\x9d": '"', "\x89ÛÒ": "-",
                     "\x89ÛÓ": "-", "\x89Û¢": "'", "\x89ã¢": "", "åÊ": " ", "Ì©": "é", "å£": "£", "å¨": "", "åÈ": "",
                     "åÇ": ""}


def dedupe(splits, merge_labels=False):
    """Keep the first row of every (text, text_pair) (splits in train, val, test order) and drop empty texts. A text
    whose rows disagree on the labels is dropped, or with ``merge_labels`` (a multi-label dataset) kept once with the
    union of its labels."""
    labels = defaultdict(set)
    for rows in splits.values():
        for text, pair, labs in rows:
            labels[(text, pair)].add(frozenset(labs))
    out, seen = {}, set()
    for split in [s for s in ("train", "val", "test") if s in splits]:
        out[split] = []
        for text, pair, _ in splits[split]:
            key = (text, pair)
            if not text or key in seen or (len(labels[key]) > 1 and not merge_labels):
                continue
            seen.add(key)
            out[split].append((text, pair, set().union(*labels[key])))
    return out


def finish(splits, val_fraction=0.1):
    """Deduplicated splits; without a val split, val is carved out of train (deterministically)."""
    splits = dedupe(splits)
    if "val" not in splits:
        train = list(splits["train"])
        random.Random(SEED).shuffle(train)
        n_val = int(len(train) * val_fraction)
        splits["val"], splits["train"] = train[:n_val], train[n_val:]
    return splits


def pool_and_split(rows, fractions=(0.7, 0.1, 0.2), merge_labels=False):
    """Deduplicate rows that have no split of their own, then ``stable_split`` them."""
    return stable_split(dedupe({"train": rows}, merge_labels)["train"], SEED, fractions)


def read_csv(path, encoding="utf-8", delimiter=","):
    with open(path, newline="", encoding=encoding) as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def load_sarcasm(raw):
    out = {"train": [], "test": []}
    for platform in ("reddit", "twitter"):
        for split, name in (("train", "training"), ("test", "testing")):
            path = raw / "sarcasm_figlang2020" / platform / f"sarcasm_detection_shared_task_{platform}_{name}.jsonl"
            for line in read_lines(path):
                r = json.loads(line)
                label = "sarcastic" if r["label"] == "SARCASM" else "not_sarcastic"
                out[split].append((clean(r["response"]), None, {label}))
    return finish(out)


def load_liar(raw):
    groups = {"false": "false_or_pants_fire", "pants-fire": "false_or_pants_fire", "true": "true_or_mostly_true",
              "mostly-true": "true_or_mostly_true"}
    out = {}
    for split, name in (("train", "train"), ("val", "valid"), ("test", "test")):
        rows = []
        for line in read_lines(raw / "liar" / f"{name}.tsv"):  # no quoting: statements contain bare quotes
            parts = line.split("\t")
            rows.append((clean(parts[2]), None, {parts[1]} | ({groups[parts[1]]} if parts[1] in groups else set())))
        out[split] = rows
    return finish(out)


def load_politeness(raw):
    """The paper's binary task: the top quartile of the normalised score (per community file) is polite, the bottom
    quartile impolite; the middle half is dropped."""
    rows = []
    for name in ("wikipedia.annotated.csv", "stack-exchange.annotated.csv"):
        records = read_csv(raw / "politeness_stanford" / name)
        scores = sorted(float(r["Normalized Score"]) for r in records)
        low, high = scores[len(scores) // 4], scores[(3 * len(scores)) // 4]
        for r in records:
            score = float(r["Normalized Score"])
            if score <= low:
                rows.append((clean(r["Request"]), None, {"impolite"}))
            elif score >= high:
                rows.append((clean(r["Request"]), None, {"polite"}))
    return pool_and_split(rows)


def load_medical_abstracts(raw):
    names = {r["condition_label"]: r["condition_name"] for r in read_csv(raw / "medical_abstracts" /
                                                                          "medical_tc_labels.csv")}
    rows = [(clean(r["medical_abstract"]), None, {names[r["condition_label"]]})
            for r in read_csv(raw / "medical_abstracts" / "medical_tc_test.csv")]
    # Only the test split is in the snapshot. 113 abstracts occur with two or more conditions: they are multi-label.
    return pool_and_split(rows, merge_labels=True)


def load_symptom2disease(raw):
    """50 rows per disease (38-50 distinct) and no split: split each disease on its own (50/25/25) so that every split
    keeps at least 8 rows of it."""
    rows = dedupe({"train": [(clean(r["text"]), None, {r["label"]})
                             for r in read_csv(raw / "symptom2disease" / "Symptom2Disease.csv")]})["train"]
    by_label = defaultdict(list)
    for row in rows:
        by_label[next(iter(row[2]))].append(row)
    out = {"train": [], "val": [], "test": []}
    for label in sorted(by_label):
        for split, part in stable_split(by_label[label], f"{SEED}-{label}", (0.5, 0.25, 0.25)).items():
            out[split] += part
    return out


def load_hahackathon(raw):
    out = {}
    for split, name in (("train", "train.csv"), ("val", "dev.csv"), ("test", "gold-test-27446.csv")):
        out[split] = [(clean(r["text"]), None, {"humorous" if r["is_humor"] == "1" else "not_humorous"})
                      for r in read_csv(raw / "humor_hahackathon" / name)]
    return finish(out)


def load_meld(raw):
    out = {}
    for split, name in (("train", "train"), ("val", "dev"), ("test", "test")):
        out[split] = [(clean(r["Utterance"]), None, {r["Emotion"]})
                      for r in read_csv(raw / "meld" / f"{name}_sent_emo.csv")]
    return finish(out)


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt'\"\\\\])")


def unescape_comment(comment):
    """Impermium comments are quoted, escaped string literals (SOURCES.md): '\\n', '\\xa0', '\\xe2\\x80\\x99'
    (UTF-8 bytes written one escape each), '\\u0111'. Unknown escapes are kept as they are."""
    if len(comment) >= 2 and comment[0] == comment[-1] == '"':
        comment = comment[1:-1]

    def unescape(match):
        code = match.group(1)
        if code[0] in "xuU":
            return chr(min(int(code[1:], 16), 0x10FFFF))
        return {"n": "\n", "r": "\r", "t": "\t"}.get(code, code)

    return fix_utf8_as_latin1(_ESCAPE.sub(unescape, comment))


def load_impermium(raw):
    out = {}
    for split, name in (("train", "train.csv"), ("val", "test_with_solutions.csv"),
                        ("test", "impermium_verification_labels.csv")):
        out[split] = [(clean(unescape_comment(r["Comment"])), None, {"insult" if r["Insult"] == "1" else "not_insult"})
                      for r in read_csv(raw / "insult_impermium" / name)]
    return finish(out)


def load_atis(raw):
    out = {}
    for split, folder in (("train", "train"), ("val", "valid"), ("test", "test")):
        texts = read_lines(raw / "atis" / folder / "seq.in.txt", keep_empty=True)
        labels = read_lines(raw / "atis" / folder / "label.txt", keep_empty=True)
        if len(texts) != len(labels):
            raise ValueError(f"atis/{folder}: {len(texts)} texts but {len(labels)} labels")
        out[split] = [(clean(t), None, {intent.removeprefix("atis_") for intent in joined.split("#")})
                      for t, joined in zip(texts, labels)]  # multi-intent labels are joined by '#'
    return finish(out)


def load_airline(raw):
    rows = [(clean(html.unescape(r["text"])), None, {r["airline_sentiment"]})
            for r in read_csv(raw / "airline_sentiment" / "Tweets.csv")]
    return pool_and_split(rows)


def load_disaster(raw):
    rows = []
    for r in read_csv(raw / "disaster_tweets" / "train.csv"):
        text = r["text"]
        for bad, good in DISASTER_MOJIBAKE.items():
            text = text.replace(bad, good)
        rows.append((clean(html.unescape(text)), None, {"real_disaster" if r["target"] == "1" else "not_disaster"}))
    return pool_and_split(rows)


DAILYDIALOG_ACTS = {"1": "inform", "2": "question", "3": "directive", "4": "commissive"}
DAILYDIALOG_EMOTIONS = {"0": "no_emotion", "1": "anger", "2": "disgust", "3": "fear", "4": "happiness", "5": "sadness",
                        "6": "surprise"}


def load_dailydialog(raw):
    """Only the validation and test dialogues are in the snapshot: pool them and split by dialogue (60/20/20)."""
    dialogues = []
    for folder in ("validation", "test"):
        base = raw / "dailydialog" / folder
        texts = read_lines(base / "dialogues.txt")
        acts = read_lines(base / "dialogues_act.txt")
        emotions = read_lines(base / "dialogues_emotion.txt")
        for text, act, emotion in zip(texts, acts, emotions, strict=True):
            utterances = [u.strip() for u in text.split("__eou__")][:-1]
            act, emotion = act.split(), emotion.split()
            if not len(utterances) == len(act) == len(emotion):
                raise ValueError(f"dailydialog/{folder}: utterances and labels do not align")
            dialogues.append([(clean(detokenize(u)), None, {DAILYDIALOG_ACTS[a], DAILYDIALOG_EMOTIONS[e]})
                              for u, a, e in zip(utterances, act, emotion)])
    parts = stable_split(dialogues, SEED, (0.6, 0.2, 0.2))
    return dedupe({split: [row for d in ds for row in d] for split, ds in parts.items()})


# Switchboard tags that become tasks (the most frequent ones), and the tags pooled as "question".
SWDA_LABELS = {"sd": "statement_non_opinion", "sv": "statement_opinion", "b": "backchannel", "aa": "agree_accept",
               "ba": "appreciation", "qy": "yes_no_question", "qw": "wh_question", "ny": "yes_answer",
               "fc": "conventional_closing"}
SWDA_QUESTION_TAGS = ("qy", "qw", "qy^d", "qw^d", "qo", "qh", "^g", "qrr")


def load_swda(raw):
    """Only the validation and test conversations are in the snapshot: pool their utterances and split them."""
    rows = []
    for name in ("val_set.txt", "test_set.txt"):
        for line in read_lines(raw / "swda" / name):
            parts = line.split("|")
            tag = parts[-1]
            labels = {SWDA_LABELS.get(tag, tag)} | ({"question"} if tag in SWDA_QUESTION_TAGS else set())
            rows.append((clean("|".join(parts[1:-1])), None, labels))
    return pool_and_split(rows, (0.6, 0.2, 0.2))


def load_bbc(raw):
    rows = [(clean(r["Text"]), None, {r["Category"]}) for r in read_csv(raw / "bbc_news" / "BBC_News_Train.csv")]
    return pool_and_split(rows)


def load_argkp(raw):
    """Argument as text, debate topic as text_pair (the stance depends on the topic)."""
    out = {}
    for split, name in (("train", "train"), ("val", "dev"), ("test", "test")):
        out[split] = [(clean(r["argument"].lstrip("`")), clean(r["topic"]), {"pro" if r["stance"] == "1" else "con"})
                      for r in read_csv(raw / "ibm_argkp_stance" / f"arguments_{name}.csv")]
    return finish(out)


def load_unfair_tos(raw):
    rows = []
    for r in read_csv(raw / "legalbench" / "unfair_tos" / "data.tsv", delimiter="\t"):
        label = r["label"].strip()
        rows.append((clean(detokenize(r["text"])), None, {"other"} if label == "Other" else {label, "unfair_clause"}))
    return pool_and_split(rows)


def load_overruling(raw):
    """The 6 train demonstrations and the test sentences, pooled and split (the test has many repeats)."""
    rows = []
    for name in ("train.tsv", "test.tsv"):
        for r in read_csv(raw / "legalbench" / "overruling" / name, delimiter="\t"):
            rows.append((clean(r["text"].replace('""', '"')), None,
                         {"overruling" if r["label"] == "Yes" else "not_overruling"}))
    return pool_and_split(rows)


def load_cefr(raw):
    """Level = the mean of the two annotators' levels (1-6 = A1-C2): beginner <= 2 (A1/A2), advanced >= 5 (C1/C2)."""
    out = {"train": [], "val": [], "test": []}
    for folder, prefix in (("SCoRE", "CEFR-SP_SCoRE"), ("Wiki-Auto", "CEFR-SP_Wikiauto")):
        for split, name in (("train", "train"), ("val", "dev"), ("test", "test")):
            for line in read_lines(raw / "cefr_sp" / folder / f"{prefix}_{name}.txt"):
                text, a, b = line.split("\t")
                level = (int(a) + int(b)) / 2
                label = "beginner" if level <= 2 else "advanced" if level >= 5 else "intermediate"
                out[split].append((clean(detokenize(text)), None, {label}))
    return finish(out)


def load_alexa(raw):
    rows = [(clean(r["verified_reviews"]), None, {"positive_feedback" if r["feedback"] == "1" else "negative_feedback"})
            for r in read_csv(raw / "amazon_alexa" / "amazon_alexa.tsv", encoding="utf-8-sig", delimiter="\t")]
    return pool_and_split(rows)


def load_cyberbullying(raw):
    rows = [(clean(html.unescape(fix_utf8_as_latin1(r["tweet_text"]))), None, {r["cyberbullying_type"]})
            for r in read_csv(raw / "cyberbullying" / "cyberbullying_tweets.csv")]
    return pool_and_split(rows)


def load_claimbuster(raw):
    out = {}
    for split in ("train", "test"):
        records = json.loads((raw / "claimbuster" / f"{split}.json").read_text(encoding="utf-8"))
        out[split] = [(clean(fix_utf8_as_cp1252(r["text"])), None,
                       {"check_worthy" if r["label"] == 1 else "not_check_worthy"})
                      for r in records]
    return finish(out)


# (dataset, source folder, family, text kind, loader, labels to make tasks for: None = all)
def dataset_specs(raw):
    specs = []

    def add(name, source, family, kind, splits, labels=None, prefix=None, auxiliary=False, pair=None,
            label_families=None):
        specs.append(dict(name=name, source=source, family=family, kind=kind, splits=splits, labels=labels,
                          prefix=prefix or name, auxiliary=auxiliary,
                          pair=name in ("rte", "wnli", "mrpc") if pair is None else pair,
                          label_families=label_families or {}))

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
    # Second round (split unseen_dataset or auxiliary; see ``heldout_datasets``). ``family`` is the dataset's family;
    # ``label_families`` overrides it for some labels (DailyDialog's acts).
    add("sarcasm_figlang", "sarcasm_figlang2020", "figurative", "Reddit or Twitter reply in a discussion",
        load_sarcasm(raw), labels=["sarcastic"])
    add("hahackathon", "humor_hahackathon", "figurative", "short text (jokes and non-humorous texts)",
        load_hahackathon(raw), labels=["humorous"])
    add("liar", "liar", "fact_checking", "short statement by a US politician", load_liar(raw),
        labels=["false_or_pants_fire", "true_or_mostly_true"])
    add("claimbuster", "claimbuster", "fact_checking", "sentence from a US presidential debate",
        load_claimbuster(raw), labels=["check_worthy"])
    add("politeness", "politeness_stanford", "style", "request from a Wikipedia talk page or Stack Exchange",
        load_politeness(raw), labels=["polite", "impolite"])
    add("cefr_sp", "cefr_sp", "style", "English sentence (Wikipedia or learner material)", load_cefr(raw),
        labels=["beginner", "advanced"], prefix="cefr")
    add("medical_abstracts", "medical_abstracts", "topic", "medical paper abstract (beginning)",
        load_medical_abstracts(raw))
    add("bbc_news", "bbc_news", "topic", "BBC news article (beginning, lower-cased)", load_bbc(raw))
    add("symptom2disease", "symptom2disease", "medical", "patient's description of their symptoms",
        load_symptom2disease(raw))
    add("meld", "meld", "emotion", "utterance from a TV-series dialogue (Friends)", load_meld(raw))
    add("dailydialog", "dailydialog", "emotion", "utterance from an everyday English dialogue", load_dailydialog(raw),
        labels=["anger", "disgust", "fear", "happiness", "sadness", "surprise",
                "inform", "question", "directive", "commissive"],
        label_families={act: "dialogue_act" for act in DAILYDIALOG_ACTS.values()})
    add("swda", "swda", "dialogue_act", "utterance from a telephone conversation (Switchboard)", load_swda(raw),
        labels=[*SWDA_LABELS.values(), "question"])
    add("impermium", "insult_impermium", "hate_offensive", "comment on a news or discussion site",
        load_impermium(raw), labels=["insult"])
    add("cyberbullying", "cyberbullying", "hate_offensive", "tweet", load_cyberbullying(raw))
    add("atis", "atis", "intent", "airline-travel information query", load_atis(raw))
    add("airline", "airline_sentiment", "sentiment", "tweet to a US airline", load_airline(raw))
    add("alexa", "amazon_alexa", "sentiment", "Amazon Alexa product review", load_alexa(raw),
        labels=["positive_feedback", "negative_feedback"])
    add("disaster_tweets", "disaster_tweets", "situation", "tweet", load_disaster(raw), labels=["real_disaster"])
    add("argkp", "ibm_argkp_stance", "stance", "argument on a debate topic (the topic is the text pair)",
        load_argkp(raw), labels=["pro"], pair=True)
    add("legal_unfair_tos", "legalbench", "legal", "clause of an online terms-of-service contract",
        load_unfair_tos(raw), labels=["unfair_clause"], prefix="legal")
    add("legal_overruling", "legalbench", "legal", "sentence from a court opinion", load_overruling(raw),
        labels=["overruling"], prefix="legal")
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


def heldout_datasets(datasets):
    """The leave-dataset-out rule: {family: dataset} for every family of HELDOUT_FAMILIES, the second-round dataset of
    that family with the most labelled rows (all splits), ties broken by name. ``datasets`` maps each second-round
    dataset to (family, labelled rows). Raises ValueError when a family has no second-round dataset."""
    picks = {}
    for family in HELDOUT_FAMILIES:
        candidates = sorted((-rows, name) for name, (fam, rows) in datasets.items() if fam == family)
        if not candidates:
            raise ValueError(f"No second-round dataset of family '{family}' to hold out (HELDOUT_FAMILIES).")
        picks[family] = candidates[0][1]
    if len(set(picks.values())) != len(HELDOUT_FAMILIES):
        raise ValueError(f"The held-out datasets are not distinct: {picks}")
    return picks


def drop_texts(splits, texts):
    """``splits`` without the rows whose text is in ``texts``, and how many rows that drops."""
    out = {split: [r for r in rows if r[0] not in texts] for split, rows in splits.items()}
    return out, sum(len(rows) for rows in splits.values()) - sum(len(rows) for rows in out.values())


def registry_entry(spec, label, counts, family=None):
    return dict(dataset=spec["name"], source=spec["source"], family=family or spec["family"], label=label,
                text_kind=spec["kind"], pair=spec["pair"], counts=counts, license=LICENSES[spec["source"]])


def build_first_round(spec, registry, task_rows, rows_dir):
    """The tasks of a first-round dataset (the suite, plus the CLINC/BANKING auxiliary intents); rows written."""
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
        task_rows[task] = built[0]
        registry[task] = registry_entry(spec, label, built[1])
        if auxiliary:
            registry[task].update(rows_file=f"{spec['name']}_auxiliary", split="auxiliary")
    write_rows(rows_dir / f"{spec['name']}.jsonl.gz", out_rows)
    if auxiliary_rows:
        write_rows(rows_dir / f"{spec['name']}_auxiliary.jsonl.gz", auxiliary_rows)


def draw_seen_unseen(registry):
    """Seen/unseen split of the first-round tasks: one whole family unseen, plus UNSEEN_FRACTION of every other family
    (at least one task). Returns {family: task names}."""
    by_family = defaultdict(list)
    for name, info in registry.items():
        if info["source"] in FIRST_ROUND_SOURCES and info.get("split") != "auxiliary":
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
    return by_family


def build_second_round(spec, split, registry, task_rows, rows_dir):
    """The tasks of a second-round dataset, all of split ``split`` (unseen_dataset: train/val/test rows; auxiliary:
    train/val rows); rows written to <dataset>.jsonl.gz."""
    splits = spec["splits"]
    labels = spec["labels"] or sorted({lab for rows in splits.values() for r in rows for lab in r[2]})
    split_names = ("train", "val", "test") if split == "unseen_dataset" else ("train", "val")
    out_rows = []
    for label in labels:
        task = f"{spec['prefix']}_{slug(label)}"
        if split == "auxiliary" and task in SECOND_ROUND_EXCLUDE:
            print(f"skip {task}: the same task as the unseen {SECOND_ROUND_EXCLUDE[task]}")
            continue
        built = binary_task(splits, label, task, split_names)
        if built is None:
            print(f"skip {split} {task}: too few rows")
            continue
        out_rows.extend(built[0])
        task_rows[task] = built[0]
        registry[task] = registry_entry(spec, label, built[1], spec["label_families"].get(label))
        registry[task]["split"] = split
    write_rows(rows_dir / f"{spec['name']}.jsonl.gz", out_rows)


def pooled_members(registry, concept):
    """{"positive": names, "negative": names}: the member tasks of a pooled concept (POOLED_CONCEPTS)."""
    spec = POOLED_CONCEPTS[concept]
    out = {}
    for side in ("positive", "negative"):
        out[side] = sorted(name for name, info in registry.items()
                           if info["family"] in spec["families"] and info["split"] in POOLED_MEMBER_SPLITS
                           and any(fnmatch.fnmatch(name, pattern) for pattern in spec[side]))
    return out


def pooled_task(task, members, task_rows, banned):
    """(rows, counts) of a pooled task: per split (train, val), the members' label-1 rows, taken round-robin over the
    members, deduplicated, without texts on both sides, in ``banned`` or (val) in train; balanced and capped. None when
    a split has fewer than 8 rows of a class."""
    rng = random.Random(int(hashlib.sha256(task.encode()).hexdigest()[:8], 16))
    rows, counts, train_texts = [], {}, set()
    for split, cap in (("train", TRAIN_CAP), ("val", VAL_CAP)):
        sides, excluded = {}, banned | train_texts
        for side in ("positive", "negative"):
            per_member = []
            for name in members[side]:
                picked = [(r["text"], r["text_pair"]) for r in task_rows[name]
                          if r["split"] == split and r["label"] == 1 and r["text"] not in excluded]
                rng.shuffle(picked)
                per_member.append(picked)
            ordered, seen = [], set()
            for i in range(max((len(p) for p in per_member), default=0)):
                for picked in per_member:
                    if i < len(picked) and picked[i][0] not in seen:
                        seen.add(picked[i][0])
                        ordered.append(picked[i])
            sides[side] = ordered
        both = {t for t, _ in sides["positive"]} & {t for t, _ in sides["negative"]}
        pos = [r for r in sides["positive"] if r[0] not in both]
        neg = [r for r in sides["negative"] if r[0] not in both]
        k = min(len(pos), len(neg), cap // 2)
        if k < 8:
            return None
        binary = [(t, p, 1) for t, p in pos[:k]] + [(t, p, 0) for t, p in neg[:k]]
        rng.shuffle(binary)
        train_texts |= {t for t, _, _ in binary}
        counts[split] = {"rows": len(binary), "positives": k}
        rows += [dict(task=task, split=split, text=t, text_pair=p, label=y) for t, p, y in binary]
    return rows, counts


def build_pooled(registry, task_rows, banned, rows_dir):
    """The pooled concept tasks (family "pooled", split "auxiliary"); rows written to pooled.jsonl.gz."""
    out_rows = []
    for concept in POOLED_CONCEPTS:
        task = f"pooled_{concept}"
        members = pooled_members(registry, concept)
        built = pooled_task(task, members, task_rows, banned) if members["positive"] and members["negative"] else None
        if built is None:
            print(f"skip {task}: too few rows")
            continue
        out_rows.extend(built[0])
        sources = sorted({registry[m]["source"] for side in members.values() for m in side})
        kinds = sorted({registry[m]["text_kind"] for side in members.values() for m in side})
        registry[task] = dict(
            dataset="pooled", source="pooled", family="pooled", label=concept, text_kind="mixed: " + "; ".join(kinds),
            pair=False, counts=built[1], license=" | ".join(f"{src}: {LICENSES[src]}" for src in sources),
            split="auxiliary", members=members,
        )
    write_rows(rows_dir / "pooled.jsonl.gz", out_rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", default="../shared/data/raw", type=Path)
    parser.add_argument("--out", default="text2lora/data/suite", type=Path)
    args = parser.parse_args()

    rows_dir = args.out / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    specs = dataset_specs(args.raw)
    first = [s for s in specs if s["source"] in FIRST_ROUND_SOURCES]
    second = [s for s in specs if s["source"] not in FIRST_ROUND_SOURCES]
    datasets = {s["name"]: (s["family"], sum(len(rows) for rows in s["splits"].values())) for s in second}
    heldout = heldout_datasets(datasets)
    held = set(heldout.values())
    # No text of a held-out dataset may be trained on: the held-out datasets drop the first-round texts (frozen rows),
    # the other second-round datasets drop the held-out texts.
    first_texts = {r[0] for s in first for rows in s["splits"].values() for r in rows}
    for spec in second:
        if spec["name"] in held:
            spec["splits"], n = drop_texts(spec["splits"], first_texts)
            print(f"{spec['name']}: held out for {spec['family']}; dropped {n} rows whose text is in a first-round set")
    held_texts = {r[0] for s in second if s["name"] in held for rows in s["splits"].values() for r in rows}
    for spec in second:
        if spec["name"] not in held:
            spec["splits"], n = drop_texts(spec["splits"], held_texts)
            if n:
                print(f"{spec['name']}: dropped {n} rows whose text is in a held-out dataset")

    registry, task_rows = {}, {}
    for spec in first:
        build_first_round(spec, registry, task_rows, rows_dir)
    by_family = draw_seen_unseen(registry)
    for spec in second:
        build_second_round(spec, "unseen_dataset" if spec["name"] in held else "auxiliary", registry, task_rows,
                           rows_dir)
    build_pooled(registry, task_rows, held_texts, rows_dir)

    meta = dict(seed=SEED, train_cap=TRAIN_CAP, val_cap=VAL_CAP, test_positive_cap=TEST_POS_CAP,
                unseen_family=UNSEEN_FAMILY, unseen_fraction=UNSEEN_FRACTION,
                first_round_sources=list(FIRST_ROUND_SOURCES), heldout_families=list(HELDOUT_FAMILIES),
                heldout_datasets=heldout,
                second_round_datasets={name: {"family": fam, "rows": n} for name, (fam, n) in sorted(datasets.items())},
                tasks=dict(sorted(registry.items())))
    tmp = args.out / "tasks.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out / "tasks.json")
    lic = ["# Licences of the task suite's source datasets", "",
           "Every row in rows/ is derived from these public datasets (see scripts/build_task_suite.py). The pooled "
           "tasks (rows/pooled.jsonl.gz) mix rows of several of them; each pooled task's `license` in tasks.json "
           "lists the notes of all its sources.", ""]
    lic += [f"- **{k}**: {v}" for k, v in sorted(LICENSES.items())]
    (args.out / "LICENSES.md").write_text("\n".join(lic) + "\n")
    splits = defaultdict(int)
    for info in registry.values():
        splits[info["split"]] += 1
    n_sources = len({t["source"] for t in registry.values()} - {"pooled"})
    print(f"{splits['seen'] + splits['unseen']} suite tasks ({splits['unseen']} unseen) from "
          f"{len(FIRST_ROUND_SOURCES)} first-round datasets, {len(by_family)} families; "
          f"{splits['unseen_dataset']} unseen_dataset tasks from {sorted(held)}; {splits['auxiliary']} auxiliary "
          f"tasks ({sum(t['family'] == 'pooled' for t in registry.values())} pooled); {n_sources} sources")
    for family, names in sorted(by_family.items()):
        print(f"  {family:16s} {len(names):3d}")


if __name__ == "__main__":
    main()
