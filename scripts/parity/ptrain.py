"""The training recipe (ttrank train flags) and the PyTorch training loop that
follows ttrank's: batches of B lists in file order (ttrank --shuffle 0),
per-list mean loss, coupled L2 added to the gradient of decay tensors, global
gradient-norm clipping, then Adam with bias correction exactly as
src/ref_optim.c (or SGD with momentum), float32 state.

Flags that a newer ttrank may have (--bias-hidden, --lr-schedule, --warmup,
--weight-decay, --holdout) are parsed and applied to the torch side too; they
are passed to ttrank only when the caller puts them in the recipe.
"""
import math
import shlex

import numpy as np
import torch

# ttrank train flags the recipe may hold: flag -> (key, type)
FLAGS = {
    "--hidden": ("hidden", "list"), "--batch": ("batch", int), "--lr": ("lr", float),
    "--epochs": ("epochs", int), "--l2": ("l2", float), "--clip": ("clip", float),
    "--slot-dropout": ("slot_dropout", float), "--embed-dim": ("embed_dim", int),
    "--shuffle": ("shuffle", int), "--loss": ("loss", str), "--optimizer": ("optimizer", str),
    "--components": ("components", int), "--dim": ("dot_dim", int),
    "--attn-dim": ("attn_dim", int), "--bias-hidden": ("bias_hidden", int),
    "--lr-schedule": ("lr_schedule", str), "--warmup": ("warmup", int),
    "--weight-decay": ("weight_decay", float), "--holdout": ("holdout", float),
    "--dot-serving": ("dot_serving", str), "--average": ("average", float),
}
# ttrank's defaults (docs/training.md); parity.py passes every one of them to
# ttrank explicitly, so the two sides agree even where ttrank's change.
DEFAULTS = {"hidden": [32, 16], "batch": 256, "lr": None, "epochs": 4, "l2": 0.0, "clip": 0.0,
            "slot_dropout": 0.1, "embed_dim": 8, "shuffle": 0, "loss": "bce",
            "optimizer": "adam", "components": 2, "dot_dim": 4, "attn_dim": 8,
            "bias_hidden": 8, "lr_schedule": "cosine", "warmup": 0, "weight_decay": 1e-3,
            "holdout": None, "dot_serving": "mean", "average": 0.0}


def parse_recipe(text):
    """'--hidden 64,32 --batch 16 ...' -> dict (defaults filled) and the flag list."""
    toks = shlex.split(text or "")
    r = dict(DEFAULTS)
    r["hidden"] = list(DEFAULTS["hidden"])
    i = 0
    while i < len(toks):
        t = toks[i]
        if "=" in t and t.split("=", 1)[0] in FLAGS:
            t, val = t.split("=", 1)
            i += 1
        elif t in FLAGS:
            if i + 1 >= len(toks):
                raise ValueError("recipe: %s needs a value" % t)
            val = toks[i + 1]
            i += 2
        else:
            raise ValueError("recipe: unknown or unsupported flag %r" % t)
        key, typ = FLAGS[t]
        if typ == "list":
            r[key] = [int(w) for w in val.split(",") if w.strip()]
        else:
            r[key] = typ(val)
    if r["lr"] is None:
        r["lr"] = 1e-2 if r["optimizer"] == "sgd" else 3e-3
    if r["shuffle"] != 0:
        raise ValueError("recipe: the harness needs --shuffle 0 (file order on both sides)")
    if r["holdout"]:
        raise ValueError("recipe: --holdout > 0 is not emulated on the torch side; use --holdout 0")
    return r, toks


def model_cfg(recipe, variant, log):
    return {"variant": variant, "F": log["F"], "hidden": recipe["hidden"], "rows": log["rows"],
            "cols": log["cols"], "n_contexts": log["n_contexts"],
            "embed_dim": recipe["embed_dim"], "bias_hidden": recipe["bias_hidden"],
            "dot_dim": recipe["dot_dim"], "components": recipe["components"],
            "attn_dim": recipe["attn_dim"], "loss": recipe["loss"],
            "slot_dropout": recipe["slot_dropout"], "dot_serving": recipe["dot_serving"]}


def normalisation(log):
    """cmd_train.c pass 2: mean and 1/std over the log's items (double sums),
    scale 0 where var <= 1e-12."""
    x = log["x"][log["mask"]].astype(np.float64)
    n = x.shape[0]
    mu = x.sum(0) / n
    var = (x * x).sum(0) / n - mu * mu
    mean = mu.astype(np.float32)
    scale = np.where(var > 1e-12, 1.0 / np.sqrt(np.maximum(var, 1e-300)), 0.0).astype(np.float32)
    return mean, scale


def f32(v):
    return float(np.float32(v))


class Optimizer:
    """ttrank's update: Adam with lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
    eps_t = eps sqrt(1 - b2^t) (ref_optim.c), or SGD with momentum; an
    optional lr schedule (warm-up from 0, then constant / cosine / linear to 0
    at the last step) and decoupled weight decay w -= lr_t wd w on decay
    tensors."""

    def __init__(self, model, recipe, total_steps):
        self.model = model
        self.r = recipe
        self.total = total_steps
        self.t = 0
        self.lr = f32(recipe["lr"])
        self.b1, self.b2, self.eps = f32(0.9), f32(0.999), f32(1e-8)
        self.mom = f32(0.9)
        self.state = {n: (torch.zeros_like(p), torch.zeros_like(p)) for n, p in model.params()}

    def lr_at(self, t):
        """Scheduled learning rate of step t (1-based), as ttr_lr_at: lr *
        min(1, t / warmup) * decay(p), p = (t - warmup) / (total - warmup)
        clamped to [0, 1], total = the run's steps (cmd_train.c)."""
        r, lr = self.r, self.lr
        w = r["warmup"]
        if w and t < w:
            lr = lr * t / w
        total = self.r.get("decay_steps") or (self.total if self.total > w else w + 1)
        if r["lr_schedule"] == "constant":
            return lr
        frac = min(max((t - w) / (total - w), 0.0), 1.0)
        if r["lr_schedule"] == "cosine":
            return lr * 0.5 * (1.0 + math.cos(math.pi * frac))
        if r["lr_schedule"] == "linear":
            return lr * (1.0 - frac)
        raise ValueError("lr schedule %r" % r["lr_schedule"])

    @torch.no_grad()
    def step(self):
        """L2 into the gradients, norm, clip, update. Returns the grad norm."""
        m, r = self.model, self.r
        l2 = f32(r["l2"])
        if l2 > 0:
            for n, p in m.params():
                if m.decay[n]:
                    p.grad.add_(p.data * l2)
        norm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for _, p in m.params()))
        gscale = 1.0
        if r["clip"] > 0 and norm > f32(r["clip"]):
            gscale = f32(f32(r["clip"]) / norm)
        self.t += 1
        lr = f32(self.lr_at(self.t))  # ttr_lr_at returns a float
        wd = f32(r["weight_decay"])
        if r["optimizer"] == "adam":
            bc1 = 1.0 - math.pow(self.b1, self.t)
            sbc2 = math.sqrt(1.0 - math.pow(self.b2, self.t))
            lr_t, eps_t = f32(lr * sbc2 / bc1), f32(self.eps * sbc2)
            c1, c2 = f32(1.0 - self.b1), f32(1.0 - self.b2)
        for n, p in m.params():
            g = p.grad * gscale if gscale != 1.0 else p.grad
            s1, s2 = self.state[n]
            if wd > 0 and m.decay[n]:
                p.data.mul_(f32(1.0 - f32(lr * wd)))  # train.c decay_keep
            if r["optimizer"] == "adam":
                s1.mul_(self.b1).add_(g * c1)
                s2.mul_(self.b2).add_((g * g) * c2)
                p.data.sub_((s1 * lr_t) / (s2.sqrt() + eps_t))
            else:
                s1.mul_(self.mom).add_(g)
                p.data.sub_(s1 * lr)
        return norm


def to_torch(log, mean, scale):
    xn = (log["x"] - mean) * scale  # float32, as serve.c rel_forward
    xn[~log["mask"]] = 0.0
    return {"xn": torch.from_numpy(xn), "slots": torch.from_numpy(log["slots"]),
            "mask": torch.from_numpy(log["mask"]), "clicks": torch.from_numpy(log["clicks"]),
            "ctx": torch.from_numpy(log["ctx"])}


class WeightAverage:
    """ttrank's ttr_weight_avg: avg = d * avg + (1 - d) * w after every step
    (float32, no fused multiply-add), starting at the first step's weights;
    keep() puts the average into the model, as ttrank train keeps it."""

    def __init__(self, model, decay):
        self.model, self.avg = model, None
        self.d = torch.tensor(f32(decay), dtype=torch.float32)
        self.e = torch.tensor(f32(1.0) - f32(decay), dtype=torch.float32)
        self.on = decay > 0

    def update(self):
        if not self.on:
            return
        with torch.no_grad():
            if self.avg is None:
                self.avg = {n: p.detach().clone() for n, p in self.model.params()}
                return
            for n, p in self.model.params():
                self.avg[n] = torch.add(self.avg[n] * self.d, p.detach() * self.e)

    def keep(self):
        if self.avg is None:
            return
        with torch.no_grad():
            for n, p in self.model.params():
                p.copy_(self.avg[n])


def train(model, T, recipe, seed, epochs=None, on_step=None, max_steps=None, drops=None):
    """Train on the tensors T (to_torch) in file order. Returns the mean loss
    per list of each epoch (ttrank's 'epoch N: loss X per list'). drops:
    a pmodel.SplitMix drawing ttrank's own slot-dropout decisions."""
    B = recipe["batch"]
    E = recipe["epochs"] if epochs is None else epochs
    L = T["xn"].shape[0]
    steps_per_epoch = (L + B - 1) // B
    opt = Optimizer(model, recipe, steps_per_epoch * E)
    gen = torch.Generator().manual_seed(int(seed) * 7919 + 17)
    for _, p in model.params():
        p.grad = torch.zeros_like(p)
    losses = []
    step = 0
    avg = WeightAverage(model, recipe.get("average", 0.0))
    for ep in range(E):
        tot, lists = 0.0, 0
        for s in range(0, L, B):
            sl = slice(s, min(s + B, L))
            for _, p in model.params():
                p.grad.zero_()
            dm = None
            if drops is not None and model.variant in ("additive", "pal") \
                    and recipe["slot_dropout"] > 0:
                dm = drops.drops(T["mask"][sl], recipe["slot_dropout"])
            per_list, extras = model.forward_loss(T["xn"][sl], T["slots"][sl], T["mask"][sl],
                                                  T["clicks"][sl], T["ctx"][sl], True, gen, dm)
            loss = per_list.mean()
            loss.backward()
            opt.step()
            avg.update()
            model.commit_stats(extras)
            n = per_list.shape[0]
            tot += float(loss) * n
            lists += n
            step += 1
            if on_step:
                on_step(step, float(loss))
            if max_steps and step >= max_steps:
                losses.append(tot / lists)
                avg.keep()
                return losses
        losses.append(tot / lists)
    avg.keep()
    return losses
