#!/usr/bin/env python3
"""ttrank vs PyTorch parity: the same models trained with the same recipe on the
same simulated click logs, evaluated the same way.

For each seed: one click log is simulated on the training LETOR file with
`ttrank simulate` (a ranked list of 10; for xpa a 2x5 grid with a same-row
neighbour effect), then for each variant ttrank (`ttrank train --shuffle 0`)
and PyTorch (scripts/parity/pmodel.py, initialised with ttrank's scheme from
an independent torch seed) train on it with the recipe's settings and the same
file-order batches. Both are scored on the test LETOR file with their
relevance tower (ttrank: `ttrank rank`; torch: in Python; dot: r(x) . b_ref,
the running mean of b over training items) and one NDCG function
(pmetrics.py, checked against `ttrank eval`) is applied to both.

Printed: per variant the mean NDCG@5 / @10 of each side, the paired difference
ttrank - torch over seeds (mean, sd, stderr), and the per-epoch training loss
of both (ttrank's 'epoch N: loss X per list'; torch computes the same mean
loss per list before each update).

  parity.py --data DIR [--seeds '1 2 3 4 5'] [--lists N] [--epochs E]
            [--variants 'naive additive pal dot mixem xpa'] [--recipe FLAGS]
            [--sim FLAGS] [--work DIR] [--ttrank PATH] [--keep]

--recipe holds `ttrank train` flags (e.g. '--hidden 64,32 --batch 16 --lr 1e-3
--l2 0 --clip 0 --slot-dropout 0.1 --embed-dim 8'); they are passed to ttrank
as they are and configure the torch side (ptrain.parse_recipe). --epochs
overrides the recipe's. DIR holds train.txt + test.txt (LETOR) or rank.train
+ rank.test (with .query group files).
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdata  # noqa: E402
import pmetrics  # noqa: E402
import pmodel  # noqa: E402
import ptrain  # noqa: E402
import ttrfile  # noqa: E402

SIM_DEFAULT = ("--draw random --users pbm:0.5,position:0.3,thorough:0.2 "
               "--bias-feature 41 --logger 0.5,2,1")
GRID = "--grid 2x5 --neighbour 3"


def sh(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode:
        sys.exit("parity: failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout,
                                                   p.stderr))
    return p.stdout


def data_files(d):
    for tr, te in (("train.txt", "test.txt"), ("rank.train", "rank.test")):
        if os.path.exists(os.path.join(d, tr)) and os.path.exists(os.path.join(d, te)):
            return os.path.join(d, tr), os.path.join(d, te)
    sys.exit("parity: %s holds neither train.txt/test.txt nor rank.train/rank.test" % d)


def epoch_losses(out):
    return [float(x) for x in re.findall(r"epoch \d+: loss (\S+) per list", out)]


def mean_sd(v):
    v = np.asarray(v, float)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return float(v.mean()), sd, sd / math.sqrt(v.size)


def strip_flags(toks, drop):
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        if t.split("=", 1)[0] in drop:
            i += 1 if "=" in t else 2
            continue
        out.append(t)
        i += 1
    return out


def explicit_flags(recipe, help_text):
    """Every recipe setting as a ttrank flag (those this ttrank has), so that
    both sides train the same recipe whatever ttrank's defaults are."""
    out = []
    for flag, (key, typ) in ptrain.FLAGS.items():
        if key in ("epochs", "shuffle", "holdout") or recipe.get(key) is None:
            continue
        if flag not in help_text:
            continue
        val = recipe[key]
        out += [flag, ",".join(str(w) for w in val) if typ == "list" else str(val)]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("DATA"),
                    help="LETOR fold folder (default: $DATA; make parity gives its default)")
    ap.add_argument("--seeds", default=os.environ.get("SEEDS", "1 2 3 4 5"))
    ap.add_argument("--lists", type=int, default=int(os.environ.get("LISTS", "40000")))
    ap.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", "0")) or None)
    ap.add_argument("--variants", default=os.environ.get(
        "VARIANTS", "naive additive pal dot mixem xpa"))
    ap.add_argument("--recipe", default=os.environ.get("RECIPE", ""))
    ap.add_argument("--sim", default=os.environ.get("SIM", SIM_DEFAULT))
    ap.add_argument("--work", default=os.environ.get("WORK", "/tmp/ttrank-parity"))
    ap.add_argument("--ttrank", default=os.environ.get("TTRANK", "build/x86_64-gcc/ttrank"))
    ap.add_argument("--torch-seed-offset", type=int, default=1000,
                    help="torch initialises from seed + this (independent of ttrank's)")
    ap.add_argument("--init", default=os.environ.get("INIT", "independent"),
                    choices=["independent", "same", "both"],
                    help="torch's initial weights: ttrank's scheme from its own seed "
                         "(independent), ttrank's very weights and slot-dropout draws "
                         "(same), or both (torch trains twice)")
    ap.add_argument("--control", action="store_true",
                    default=os.environ.get("CONTROL", "") not in ("", "0"),
                    help="also train ttrank with TTR_CPU_MASK=scalar: ttrank against itself "
                         "with other rounding, the noise floor of the paired differences")
    ap.add_argument("--keep", action="store_true", help="keep the click logs and models")
    ap.add_argument("--json", default=None, help="write every result to this file")
    a = ap.parse_args()
    if not a.data:
        sys.exit("parity: give --data DIR (or DATA=DIR), a LETOR fold folder")
    torch.set_num_threads(1)
    os.makedirs(a.work, exist_ok=True)
    train_path, test_path = data_files(a.data)
    recipe, toks = ptrain.parse_recipe(a.recipe)
    if a.epochs:
        recipe["epochs"] = a.epochs
    help_text = sh([a.ttrank, "train", "--help"])
    for t in strip_flags(toks, ("--epochs", "--shuffle", "--seed")):
        if t.startswith("--") and t.split("=", 1)[0] not in help_text:
            sys.exit("parity: this ttrank has no %s flag" % t)
    tt_flags = explicit_flags(recipe, help_text)
    tt_flags += ["--epochs", str(recipe["epochs"]), "--shuffle", "0"]
    if "--holdout" in help_text:
        tt_flags += ["--holdout", "0"]  # ttrank holds out 10% by default
    seeds = [int(s) for s in a.seeds.split()]
    variants = a.variants.split()
    for v in variants:
        if v not in pmodel.VARIANTS:
            sys.exit("parity: unknown variant %r" % v)
    print("parity: data %s, %d lists per log, seeds %s, variants %s" %
          (a.data, a.lists, seeds, " ".join(variants)))
    print("parity: recipe (both sides): %s" % " ".join(tt_flags))
    sys.stdout.flush()

    results = []
    ndcg_checked = []
    t_start = time.time()
    for seed in seeds:
        logs = {}
        for kind in sorted({"grid" if v == "xpa" else "list" for v in variants}):
            path = os.path.join(a.work, "clicks-%s-%d.clk" % (kind, seed))
            cmd = [a.ttrank, "simulate", "--data", train_path, "--out", path, "--lists",
                   str(a.lists), "--seed", str(seed)] + a.sim.split()
            if kind == "grid":
                cmd += GRID.split()
            sh(cmd)
            logs[kind] = path
        parsed = {}
        for v in variants:
            kind = "grid" if v == "xpa" else "list"
            if kind not in parsed:
                parsed[kind] = pdata.read_clicks(logs[kind], a.work)
            log = parsed[kind]
            evals = {"test": pdata.read_letor(test_path, log["F"], work=a.work),
                     "trainq": pdata.read_letor(train_path, log["F"], work=a.work)}
            model_path = os.path.join(a.work, "model-%s-%d.ttr" % (v, seed))
            init_d = None
            if a.init in ("same", "both"):
                init_path = os.path.join(a.work, "init-%s-%d.ttr" % (v, seed))
                sh([a.ttrank, "train", "--model", v, "--clicks", logs[kind], "--out", init_path,
                    "--seed", str(seed), "--quiet"] + strip_flags(tt_flags, ("--epochs",))
                   + ["--epochs", "0"])
                init_d = ttrfile.read_ttr(init_path)
                os.remove(init_path)
            # ttrank trains in the background while torch trains here (2 cores)
            tp = subprocess.Popen([a.ttrank, "train", "--model", v, "--clicks", logs[kind],
                                   "--out", model_path, "--seed", str(seed)] + tt_flags,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            cp = None
            if a.control:
                scalar_path = model_path + ".scalar.ttr"
                cp = subprocess.Popen([a.ttrank, "train", "--model", v, "--clicks", logs[kind],
                                       "--out", scalar_path, "--seed", str(seed)] + tt_flags,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=dict(os.environ, TTR_CPU_MASK="scalar"))
            t0 = time.time()
            mean, scale = ptrain.normalisation(log)
            T = ptrain.to_torch(log, mean, scale)
            r = {"variant": v, "seed": seed}
            for mode in (["independent", "same"] if a.init == "both" else [a.init]):
                side = "torch" if mode == "independent" else "torchsame"
                m = pmodel.TTRModel(ptrain.model_cfg(recipe, v, log))
                drops = None
                if mode == "independent":
                    m.init_weights(seed + a.torch_seed_offset)
                    m.norm_mean, m.norm_scale = torch.from_numpy(mean), torch.from_numpy(scale)
                else:
                    m.load_ttr(init_d)
                    drops = pmodel.SplitMix(seed)
                r["loss_" + side] = ptrain.train(m, T, recipe, seed + a.torch_seed_offset,
                                                 drops=drops)
                for ev, d in evals.items():
                    sc = m.score(torch.from_numpy(d["x"])).numpy()
                    for k in (5, 10):
                        r["ndcg%d_%s_%s" % (k, ev, side)] = pmetrics.ndcg(sc, d["label"], d["n"],
                                                                          k)
            r["torch_seconds"] = t_torch = time.time() - t0
            del T
            out, err = tp.communicate()
            if tp.returncode:
                sys.exit("parity: ttrank train failed for %s seed %d:\n%s%s" %
                         (v, seed, out, err))
            r["loss_ttrank"] = epoch_losses(out)
            tt_models = [("ttrank", model_path)]
            if cp:
                out, err = cp.communicate()
                if cp.returncode:
                    sys.exit("parity: scalar ttrank train failed:\n%s%s" % (out, err))
                r["loss_ttrankscalar"] = epoch_losses(out)
                tt_models.append(("ttrankscalar", scalar_path))
            for side, mp in tt_models:
                for ev, path in (("test", test_path), ("trainq", train_path)):
                    ranked = sh([a.ttrank, "rank", "--model", mp, "--data", path])
                    d = evals[ev]
                    sc = pmetrics.flat_to_padded(np.array(ranked.split(), np.float32), d["n"])
                    for k in (5, 10):
                        r["ndcg%d_%s_%s" % (k, ev, side)] = pmetrics.ndcg(sc, d["label"],
                                                                          d["n"], k)
            if cp and not a.keep:
                os.remove(scalar_path)
            # the NDCG function against ttrank eval, and the normalisation
            ev = json.loads(sh([a.ttrank, "eval", "--model", model_path, "--data", test_path,
                                "--json"]))
            r["ndcg_check"] = max(abs(ev["ndcg@5"] - r["ndcg5_test_ttrank"]),
                                  abs(ev["ndcg@10"] - r["ndcg10_test_ttrank"]))
            ndcg_checked.append(r["ndcg_check"])
            d = ttrfile.read_ttr(model_path)
            r["norm_diff"] = float(max(
                np.abs(d["tensors"]["norm.mean"].reshape(-1) - mean).max(),
                np.abs(d["tensors"]["norm.scale"].reshape(-1) - scale).max()))
            results.append(r)
            line = "seed %d %-8s NDCG@5 ttrank %.4f" % (seed, v, r["ndcg5_test_ttrank"])
            for side in ("torch", "torchsame", "ttrankscalar"):
                if "loss_" + side in r:
                    line += " %s %.4f" % (side, r["ndcg5_test_" + side])
            line += " | loss/epoch ttrank %s" % " ".join("%.4f" % x for x in r["loss_ttrank"])
            for side in ("torch", "torchsame"):
                if "loss_" + side in r:
                    line += " %s %s" % (side, " ".join("%.4f" % x for x in r["loss_" + side]))
            print(line + " | torch %.0fs" % t_torch)
            sys.stdout.flush()
            if not a.keep:
                os.remove(model_path)
        if not a.keep:
            for p in logs.values():
                os.remove(p)
            for f in os.listdir(a.work):
                if f.startswith("cache-clicks-") and "-%d.clk-" % seed in f:
                    os.remove(os.path.join(a.work, f))

    report(results, variants, seeds, recipe)
    print("\nNDCG check: max |pmetrics - ttrank eval| = %.1e (eval prints 6 decimals)"
          % max(ndcg_checked))
    print("normalisation: max |torch - ttrank| over mean and scale = %.1e"
          % max(r["norm_diff"] for r in results))
    print("elapsed %.0f s" % (time.time() - t_start))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"recipe": recipe, "lists": a.lists, "sim": a.sim, "results": results}, f,
                      indent=1)


def report(results, variants, seeds, recipe):
    sides = [sd for sd in ("torch", "torchsame", "ttrankscalar")
             if any("loss_" + sd in r for r in results)]
    names = {"torch": "torch (independent init, ttrank's scheme)",
             "torchsame": "torch (ttrank's initial weights and dropout draws)",
             "ttrankscalar": "CONTROL: ttrank itself with TTR_CPU_MASK=scalar (same weights "
                             "and draws, other rounding: the noise floor)"}
    for side in sides:
        print("\nParity table, ttrank vs %s: NDCG@5 / NDCG@10 on the test file, mean over seeds"
              " %s;\ndiff = ttrank - other, paired by seed (mean +- sd, stderr); trainq = the"
              " same on the training file's queries (more queries, less noise)"
              % (names[side], seeds))
        print("%-9s %8s %8s %24s %6s | %8s %8s %24s | %24s" % (
            "variant", "ttrank@5", "other@5", "diff@5 mean+-sd (se)", "|d|<.01", "ttrank@10",
            "other@10", "diff@10 mean+-sd (se)", "trainq diff@5"))
        for v in variants:
            rs = [r for r in results if r["variant"] == v and "loss_" + side in r]
            if not rs:
                continue
            cols = []
            for k, ev in ((5, "test"), (10, "test"), (5, "trainq")):
                a_ = np.array([r["ndcg%d_%s_ttrank" % (k, ev)] for r in rs])
                b_ = np.array([r["ndcg%d_%s_%s" % (k, ev, side)] for r in rs])
                cols.append((a_.mean(), b_.mean()) + mean_sd(a_ - b_))
            (a5, b5, d5, sd5, se5), (a10, b10, d10, sd10, se10), (_, _, dq, sdq, seq) = cols
            print("%-9s %8.4f %8.4f %+8.4f+-%.4f (%.4f) %6s | %8.4f %8.4f %+8.4f+-%.4f (%.4f) |"
                  " %+8.4f+-%.4f (%.4f)" % (
                      v, a5, b5, d5, sd5, se5, "yes" if abs(d5) < 0.01 else "NO", a10, b10, d10,
                      sd10, se10, dq, sdq, seq))
        print("\nTraining loss per list by epoch, ttrank/torch mean over seeds (diff = ttrank -"
              " torch, paired: mean +- sd)")
        for v in variants:
            rs = [r for r in results if r["variant"] == v and "loss_" + side in r]
            if not rs:
                continue
            E = min(min(len(r["loss_ttrank"]), len(r["loss_" + side])) for r in rs)
            parts = []
            for e in range(E):
                a_ = np.array([r["loss_ttrank"][e] for r in rs])
                b_ = np.array([r["loss_" + side][e] for r in rs])
                d, sd, _ = mean_sd(a_ - b_)
                parts.append("e%d %.4f/%.4f (%+.4f+-%.4f)" % (e + 1, a_.mean(), b_.mean(), d,
                                                             sd))
            print("%-9s %s" % (v, "  ".join(parts)))


if __name__ == "__main__":
    main()
