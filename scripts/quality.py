#!/usr/bin/env python3
"""Ranking quality of training recipes across click scenarios (`make quality`).

For every data set, scenario, logging ranker and seed, `ttrank simulate`
writes one click log from the data set's training file; every variant of the
scenario trains on that same log with the recipe's flags (paired
comparison), and `ttrank eval` measures NDCG@5 and NDCG@10 of the relevance
tower on the data set's test file against its labels (queries with a relevant
document). No labels are used in training. Results go to a JSON-lines file
(one line per trained model, resumable: finished lines are not redone) and a
summary table goes to stdout.

Scenarios (list of 10 unless a grid):
  pbm       position-based users only (pbm:1)
  mixed     pbm:0.5,position:0.3,thorough:0.2
  cascade   cascade users, who stop after their first click
  grid      2x5 grid, PBM users, no neighbour effect
  gridnb    2x5 grid, same-row neighbour effect (--neighbour 3)
Logging rankers: A = weak, biased towards a feature unrelated to relevance
(0.5 label/ymax + 2 * bias feature + noise), B = noisy relevance
(label/ymax + noise, nothing else).

  scripts/quality.py --mq DIR --yahoo DIR [--recipe 'FLAGS'] [--out FILE] ...
Every option has --help.
"""
import argparse
import concurrent.futures as cf
import json
import os
import statistics
import subprocess
import sys

SCENARIOS = {
    "pbm": "--users pbm:1",
    "mixed": "--users pbm:0.5,position:0.3,thorough:0.2",
    "cascade": "--users cascade:1",
    "grid": "--grid 2x5 --users pbm:1",
    "gridnb": "--grid 2x5 --neighbour 3 --users pbm:0.5,position:0.3,thorough:0.2",
}
LIST_VARIANTS = ["naive", "additive", "pal", "dot", "mixem"]
GRID_VARIANTS = ["naive", "additive", "xpa"]
LOGGERS = {"A": "--logger 0.5,2,1", "B": "--logger 1,0,1"}
# (train file, test file, bias feature of logger A, impressions per click log:
# about 200 per training query of MQ2008 (471 queries) and 100 of the Yahoo
# sample (201 queries, 300 features: its logs are 3.5x larger per list))
DATASETS = {
    "mq2008": ("train.txt", "test.txt", 41, 100000),
    "yahoo": ("rank.train", "rank.test", 10, 20000),
}


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout


def simulate(a, ds, scen, logger, seed):
    work = os.path.join(a.work, "logs")
    os.makedirs(work, exist_ok=True)
    train, _, bias, lists = DATASETS[ds]
    lists = a.lists or lists
    path = os.path.join(work, "%s.%s.%s.%d.%d.clk" % (ds, scen, logger, lists, seed))
    if os.path.exists(path):
        return path
    cmd = [a.ttrank, "simulate", "--data", os.path.join(a.dirs[ds], train), "--out",
           path + ".tmp", "--lists", str(lists), "--draw", "random", "--seed", str(seed),
           "--bias-feature", str(bias)]
    cmd += SCENARIOS[scen].split() + LOGGERS[logger].split()
    run(cmd)
    os.replace(path + ".tmp", path)
    return path


def train_eval(a, job):
    ds, scen, logger, seed, variant, log = job
    test = DATASETS[ds][1]
    model = os.path.join(a.work, "m.%d.%s.%s.%s.%d.%s.ttr" % (os.getpid(), ds, scen, logger,
                                                               seed, variant))
    flags = (a.recipe + " " + a.variant_recipe.get(variant, "")).split()
    run([a.ttrank, "train", "--model", variant, "--clicks", log, "--out", model, "--seed",
         str(seed), "--quiet"] + flags)
    ev = json.loads(run([a.ttrank, "eval", "--model", model, "--data",
                         os.path.join(a.dirs[ds], test), "--json"]))
    os.remove(model)
    return {"data": ds, "scenario": scen, "logger": logger, "seed": seed, "variant": variant,
            "recipe": a.name, "ndcg@5": ev["ndcg@5"], "ndcg@10": ev["ndcg@10"]}


def key(r):
    return (r["recipe"], r["data"], r["scenario"], r["logger"], r["seed"], r["variant"])


def summary(rows, recipes):
    """Mean NDCG@5 per (data, scenario) and variant; gain = paired difference to naive."""
    by = {}
    for r in rows:
        if r["recipe"] in recipes:
            by[key(r)] = r["ndcg@5"]
    cells = sorted({(k[0], k[1], k[2]) for k in by})
    out = []
    for rec, ds, scen in cells:
        variants = GRID_VARIANTS if scen.startswith("grid") else LIST_VARIANTS
        line = "%-10s %-7s %-8s" % (rec, ds, scen)
        for v in variants:
            vals = [by[k] for k in by if k[:3] == (rec, ds, scen) and k[5] == v]
            gains = [by[k] - by[k[:5] + ("naive",)] for k in by
                     if k[:3] == (rec, ds, scen) and k[5] == v and k[:5] + ("naive",) in by]
            if vals:
                g = " %+.3f" % statistics.mean(gains) if gains else ""
                line += "  %s %.3f%s (n=%d)" % (v, statistics.mean(vals), g, len(vals))
        out.append(line)
    # overall: mean paired gain over naive per variant, per recipe
    for rec in recipes:
        line = "%-10s overall gain over naive:" % rec
        for v in LIST_VARIANTS[1:] + ["xpa"]:
            gains = [by[k] - by[k[:5] + ("naive",)] for k in by
                     if k[0] == rec and k[5] == v and k[:5] + ("naive",) in by]
            if gains:
                line += "  %s %+.4f" % (v, statistics.mean(gains))
        naive = [by[k] for k in by if k[0] == rec and k[5] == "naive"]
        if naive:
            line += "  (naive mean %.4f)" % statistics.mean(naive)
        out.append(line)
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ttrank", default="build/x86_64-gcc/ttrank")
    p.add_argument("--mq", help="MQ2008 fold folder (train.txt, test.txt)")
    p.add_argument("--yahoo", help="folder of LightGBM's rank.train / rank.test")
    p.add_argument("--scenarios", default="pbm,mixed,cascade,grid,gridnb")
    p.add_argument("--loggers", default="A,B")
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--lists", type=int, default=0,
                   help="impressions per click log (default per data set, see DATASETS)")
    p.add_argument("--variants", default="", help="restrict to these variants")
    p.add_argument("--recipe", default="", help="ttrank train flags of every variant")
    p.add_argument("--variant-recipe", action="append", default=[],
                   help="VARIANT=FLAGS added for one variant (repeatable)")
    p.add_argument("--name", default="default", help="the recipe's name in the results")
    p.add_argument("--out", default="",
                   help="results, appended: a (recipe, cell, variant) already there is not "
                        "trained again (default WORK/quality.jsonl; delete it after a change)")
    p.add_argument("--work", default="/tmp/ttrank-quality", help="click logs and models")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--summary", default="", help="only print the table of these recipes")
    a = p.parse_args()
    a.dirs = {k: v for k, v in (("mq2008", a.mq), ("yahoo", a.yahoo)) if v}
    a.variant_recipe = dict(s.split("=", 1) for s in a.variant_recipe)
    os.makedirs(a.work, exist_ok=True)
    a.out = a.out or os.path.join(a.work, "quality.jsonl")
    rows = []
    if os.path.exists(a.out):
        with open(a.out) as f:
            rows = [json.loads(l) for l in f if l.strip()]
    if a.summary:
        print(summary(rows, a.summary.split(",")))
        return 0
    if not a.dirs:
        p.error("give --mq and/or --yahoo")
    done = {key(r) for r in rows}
    only = set(a.variants.split(",")) if a.variants else None
    cells = [(ds, sc, lg, int(s)) for ds in a.dirs for sc in a.scenarios.split(",")
             for lg in a.loggers.split(",") for s in a.seeds.split(",")]
    with cf.ThreadPoolExecutor(a.jobs) as ex, open(a.out, "a") as out:
        logs = dict(zip(cells, ex.map(lambda c: simulate(a, *c), cells)))
        jobs = []
        for c in cells:
            variants = GRID_VARIANTS if c[1].startswith("grid") else LIST_VARIANTS
            for v in variants:
                if (only is None or v in only) and (a.name,) + c + (v,) not in done:
                    jobs.append(c + (v, logs[c]))
        for i, r in enumerate(ex.map(lambda j: train_eval(a, j), jobs)):
            rows.append(r)
            out.write(json.dumps(r) + "\n")
            out.flush()
            print("\r%d/%d" % (i + 1, len(jobs)), end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(summary(rows, [a.name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
