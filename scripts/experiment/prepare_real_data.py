"""Turns the public medical datasets into four sites with different
distributions, a held-out validation split per site, and a pretraining
corpus that no site uses.

  pubmedqa-early  PubMedQA questions up to 2008: question -> long answer + decision
  pubmedqa-late   PubMedQA questions from 2009: the same, a later literature
  medqa           USMLE-style questions (their last two sentences) with options -> the answer
  jmed            Chinese online-consultation cases: age and sex -> the case summary
  pretrain.jsonl  the PubMedQA abstracts (CONTEXTS), which no site's records contain

Each site keeps few training records, as a single hospital's study often has:
that is the regime federation is for.

Usage: prepare_real_data.py DATA_DIR OUT_DIR [TRAIN_PER_SITE [VALIDATION_PER_SITE]]
"""
import ast
import json
import os
import random
import sys


def chat(prompt, answer):
    return {"messages": [{"role": "user", "content": prompt},
                         {"role": "assistant", "content": answer}]}


def pubmedqa(data_dir):
    records = json.load(open(os.path.join(data_dir, "pubmedqa", "ori_pqal.json")))
    early, late, abstracts = [], [], []
    for pmid in sorted(records):
        item = records[pmid]
        abstracts.append({"text": " ".join(item["CONTEXTS"])})
        record = chat(item["QUESTION"],
                      "%s Answer: %s." % (item["LONG_ANSWER"], item["final_decision"]))
        year = int(item["YEAR"]) if item["YEAR"] else 0
        (early if year and year <= 2008 else late).append(record)
    return early, late, abstracts


def medqa(data_dir):
    records = []
    for line in open(os.path.join(data_dir, "citrus", "medqa.jsonl"), encoding="utf-8"):
        item = json.loads(line)
        options = ast.literal_eval(item["OP"]) if isinstance(item["OP"], str) else item["OP"]
        text = {o["op_idx"]: o["op_text"] for o in options}
        if item["A"] not in text:
            continue
        # The vignettes run to hundreds of tokens; the closing sentences hold the question,
        # so the reply still fits in a short sequence.
        sentences = item["Q"].strip().split(". ")
        stem = ". ".join(sentences[-2:])
        prompt = stem + "\n" + "\n".join(o["op_text"] for o in options)
        records.append(chat(prompt, "Answer: " + text[item["A"]]))
    return records


def jmed(data_dir):
    """Each case becomes: patient age and sex -> the case summary (in Chinese)."""
    records = []
    for line in open(os.path.join(data_dir, "citrus", "jmed.jsonl"), encoding="utf-8"):
        lines = [part.strip() for part in json.loads(line)["Q"].strip().split("\n")]
        header = [part for part in lines if part.startswith(("患者年龄", "患者性别"))]
        summary = [part for part in lines if part.startswith("患者病情摘要")]
        if len(header) != 2 or not summary:
            continue
        prompt = "\n".join(header) + "\n请写出该患者的病情摘要。"
        records.append(chat(prompt, summary[0].split("：", 1)[-1]))
    return records


def write(path, records):
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main():
    data_dir, out_dir = sys.argv[1], sys.argv[2]
    train_count = int(sys.argv[3]) if len(sys.argv) > 3 else 80
    validation_count = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    os.makedirs(out_dir, exist_ok=True)
    early, late, abstracts = pubmedqa(data_dir)
    sites = {"pubmedqa-early": early, "pubmedqa-late": late,
             "medqa": medqa(data_dir), "jmed": jmed(data_dir)}
    shuffle = random.Random(7)
    for name, records in sites.items():
        shuffle.shuffle(records)
        validation = records[:validation_count]
        training = records[validation_count:validation_count + train_count]
        write(os.path.join(out_dir, name + "-val.jsonl"), validation)
        write(os.path.join(out_dir, name + ".jsonl"), training)
        print("%-15s %4d training, %3d validation records" % (
            name, len(training), len(validation)))
    write(os.path.join(out_dir, "pretrain.jsonl"), abstracts)
    print("%-15s %4d abstracts (pretraining only)" % ("pretrain", len(abstracts)))


if __name__ == "__main__":
    main()
