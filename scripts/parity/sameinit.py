#!/usr/bin/env python3
"""Same-initial-weights parity: ttrank and PyTorch start from the SAME weights
(ttrank's own initialisation, saved by `ttrank train --epochs 0`), see the same
batches in file order, with the very slot-dropout draws of ttrank (its
splitmix64 generator replayed in Python), and must then agree to float
rounding for a long stretch.

For each K in --steps, the first K batches of the log are written to a short
log and ttrank trains on it for one epoch from the same seed (so from the
weights of init.ttr, with the same dropout stream) and saves a checkpoint;
torch takes the same K steps from init.ttr's weights with the short run's
normalisation and schedule length. Printed per K: the mean loss over the K steps
on each side and, per tensor, max |w_ttrank - w_torch| / max |w| (and the same
for Adam's moments). A defect shows as a tensor (or a loss) that departs from
the others by far more than rounding.

Columns: max |w_ttrank - w_torch| / max |w| per tensor, the same for Adam's
moments, and how many elements differ by more than 1e-5 max |w| (a few
elements with a near-zero gradient, whose Adam step m / sqrt(v) turns
rounding into a full step, drift first: that is rounding, not a defect; a
defect moves a whole tensor).

  sameinit.py --clicks LOG --variant V [--recipe '--hidden 64,32 --l2 1e-4 ...']
              [--steps 1,10,100] [--epochs E] [--work DIR] [--ttrank PATH]
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdata  # noqa: E402
import pmodel  # noqa: E402
import ptrain  # noqa: E402
import ttrfile  # noqa: E402


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p.stdout


def epoch_losses(out):
    return [float(x) for x in re.findall(r"epoch \d+: loss ([-\d.eE+naninf]+) per list", out)]


def head_lists(src, dst, n_lists):
    """The header and the first n_lists lists of a click log."""
    with open(src) as f, open(dst, "w") as g:
        prev, k = None, 0
        for ln in f:
            if ln.startswith("#"):
                g.write(ln)
                continue
            q = ln.split(None, 2)[1]
            if q != prev:
                k += 1
                prev = q
                if k > n_lists:
                    break
            g.write(ln)


def compare(model, opt_state, d):
    rows = []
    for name, p in model.params():
        a = d["tensors"][name]
        b = p.detach().numpy().reshape(a.shape)
        scale = max(float(np.abs(a).max()), 1e-30)
        rel = float(np.abs(a - b).max()) / scale
        nbig = int((np.abs(a - b) > 1e-5 * scale).sum())
        r1 = r2 = float("nan")
        if name in d["state"] and opt_state is not None:
            s1, s2 = d["state"][name][:2]
            t1, t2 = (t.numpy().reshape(a.shape) for t in opt_state[name])
            r1 = float(np.abs(s1 - t1).max()) / max(float(np.abs(s1).max()), 1e-30)
            if s2 is not None:  # SGD keeps one array (the velocity)
                r2 = float(np.abs(s2 - t2).max()) / max(float(np.abs(s2).max()), 1e-30)
        rows.append((name, rel, r1, r2, nbig, a.size))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clicks", required=True)
    ap.add_argument("--variant", required=True, choices=pmodel.VARIANTS)
    ap.add_argument("--recipe", default="")
    ap.add_argument("--steps", default="1,10,100")
    ap.add_argument("--epochs", type=int, default=0, help="also compare E full epochs' losses")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=os.environ.get("WORK", "/tmp/ttrank-parity"))
    ap.add_argument("--ttrank", default=os.environ.get("TTRANK", "build/x86_64-gcc/ttrank"))
    ap.add_argument("--scalar", action="store_true", help="TTR_CPU_MASK=scalar for ttrank")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    env = dict(os.environ)
    if a.scalar:
        env["TTR_CPU_MASK"] = "scalar"
    recipe, toks = ptrain.parse_recipe(a.recipe)
    flags = _strip(toks, ("--shuffle", "--epochs"))
    if "--holdout" in run([a.ttrank, "train", "--help"]) and recipe["holdout"] is None:
        flags += ["--holdout", "0"]
    # the weights themselves are compared, step by step: no weight average on
    # either side (tests/test_weight_avg.c checks ttrank's)
    recipe["average"] = 0.0
    if "--average" in run([a.ttrank, "train", "--help"]):
        flags += ["--average", "0"]
    tag = "%s-%d" % (a.variant, os.getpid())
    init = os.path.join(a.work, "init-%s.ttr" % tag)
    run([a.ttrank, "train", "--model", a.variant, "--clicks", a.clicks, "--out", init,
         "--epochs", "0", "--seed", str(a.seed), "--quiet"] + flags, env)
    d0 = ttrfile.read_ttr(init)
    log = pdata.read_clicks(a.clicks, a.work)
    B = d0["cfg"]["max_batch"]
    recipe["batch"] = B
    recipe["slot_dropout"] = d0["cfg"]["slot_dropout"]
    print("same-init %s on %s: batch %d, recipe %s (slot dropout %g, ttrank's own draws)" %
          (a.variant, os.path.basename(a.clicks), B, " ".join(flags), recipe["slot_dropout"]))

    def fresh():
        m = pmodel.TTRModel(ptrain.model_cfg(recipe, a.variant, log))
        m.load_ttr(d0)  # ttrank's initial weights
        return m

    def tensors_for(d, n_lists):
        """Torch's inputs: the first n_lists lists, normalised as ttrank did
        for the run that produced d."""
        sub = {k: (v[:n_lists] if isinstance(v, np.ndarray) and v.ndim and
                   v.shape[0] == log["x"].shape[0] else v) for k, v in log.items()}
        return ptrain.to_torch(sub, d["tensors"]["norm.mean"].reshape(-1),
                               d["tensors"]["norm.scale"].reshape(-1))

    def ttrank_run(clicks, epochs, out):
        o = run([a.ttrank, "train", "--model", a.variant, "--clicks", clicks, "--out", out,
                 "--epochs", str(epochs), "--shuffle", "0", "--seed", str(a.seed),
                 "--checkpoint"] + flags, env)
        d = ttrfile.read_ttr(out)
        os.remove(out)
        return epoch_losses(o), d

    def recipe_for(d, epochs):
        r1 = dict(recipe)
        r1["epochs"] = epochs
        r1["decay_steps"] = d["cfg"]["decay_steps"] or None  # the schedule's length
        return r1

    for K in [int(s) for s in a.steps.split(",") if s]:
        # ttrank trains afresh on the first K batches (same seed: the same
        # initial weights and dropout stream as init.ttr; its normalisation
        # is the short log's, which torch then uses too)
        short = os.path.join(a.work, "head-%s.clk" % tag)
        head_lists(a.clicks, short, K * B)
        lt, dk = ttrank_run(short, 1, os.path.join(a.work, "k-%s.ttr" % tag))
        os.remove(short)
        m = fresh()
        m.norm_mean = torch.from_numpy(dk["tensors"]["norm.mean"].reshape(-1).copy())
        m.norm_scale = torch.from_numpy(dk["tensors"]["norm.scale"].reshape(-1).copy())
        opt_holder = {}
        lp = _train_keep_opt(m, tensors_for(dk, K * B), recipe_for(dk, 1), a.seed, K,
                             opt_holder)
        states = opt_holder["opt"].state
        print("\nK=%d steps: loss ttrank %.7f torch %.7f (diff %.2e)" %
              (K, lt[0], lp[0], lt[0] - lp[0]))
        print("  %-16s %12s %12s %12s  %s" % ("tensor", "rel|dw|", "rel|dm|", "rel|dv|",
                                              "elements |dw| > 1e-5 max|w|"))
        for name, rel, q1, q2, nbig, size in compare(m, states, dk):
            print("  %-16s %12.3e %12.3e %12.3e  %d/%d" % (name, rel, q1, q2, nbig, size))
        if a.variant == "dot":
            bt = dk["tensors"]["dot.bref"].reshape(-1)
            print("  %-16s %12.3e" % ("dot.bref", float(np.abs(bt - m.bref_mean.numpy()).max())
                                      / max(float(np.abs(bt).max()), 1e-30)))
    if a.epochs:
        lt, de = ttrank_run(a.clicks, a.epochs, os.path.join(a.work, "e-%s.ttr" % tag))
        m = fresh()
        lp = ptrain.train(m, tensors_for(de, log["x"].shape[0]), recipe_for(de, a.epochs),
                          a.seed, drops=pmodel.SplitMix(a.seed))
        print("\n%d epochs from the same weights:" % a.epochs)
        for i, (x, y) in enumerate(zip(lt, lp)):
            print("  epoch %d: loss ttrank %.6f torch %.6f diff %+.2e" % (i + 1, x, y, x - y))
    os.remove(init)


def _strip(toks, drop):
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        k = t.split("=", 1)[0]
        if k in drop:
            i += 1 if "=" in t else 2
            continue
        out.append(t)
        i += 1
    return out


def _train_keep_opt(m, T, recipe, seed, K, holder):
    """ptrain.train for K steps, keeping the optimizer for the comparison."""
    orig = ptrain.Optimizer

    class Keep(orig):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            holder["opt"] = self
    ptrain.Optimizer = Keep
    try:
        return ptrain.train(m, T, recipe, seed, max_steps=K, drops=pmodel.SplitMix(seed))
    finally:
        ptrain.Optimizer = orig


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
