"""ttrank's models in PyTorch, with ttrank's math (src/model.c, src/train.c).

Parameters carry ttrank's tensor names and shapes ("rel.0.w" out x in,
"rel.0.b" out x 1, "bias0.row" rows x d_e, ...), so a .ttr file loads
straight in. Lists are padded to N items with a mask; padding items take no
part in any loss, gradient, attention or statistic.

Forward over a batch: relevance tower f(x) on normalised features (ReLU
hidden layers, linear output), the bias tower(s) g(p, k) from slot
embeddings E_row[row] + E_col[col] (+ E_ctx[k]) or E_unk for a dropped slot
(additive/PAL slot dropout), optional ReLU hidden layer, linear output; then
the variant's head. Per-item loss arithmetic is in float64, as in train.c.
The loss of a batch is the mean over its lists of the per-list loss.
"""
import math

import numpy as np
import torch

VARIANTS = ["naive", "additive", "pal", "dot", "mixem", "xpa"]
M64 = (1 << 64) - 1


class SplitMix:
    """ttrank's generator (model.c ttr__rng_next / ttr__rng_uniform), to draw
    the very slot-dropout decisions ttrank draws: one per item, list by list,
    from the state seed * 0xD1B54A32D192ED03 + 1 of a fresh model. splitmix64
    is counter-based (draw k mixes state + (k + 1) * gamma), so a batch's
    draws are computed at once in numpy uint64 (wrapping) arithmetic."""

    def __init__(self, seed):
        self.s = np.uint64((seed * 0xD1B54A32D192ED03 + 1) & M64)
        self.k = 0

    def uniforms(self, n):
        with np.errstate(over="ignore"):
            z = self.s + np.arange(self.k + 1, self.k + n + 1, dtype=np.uint64) * \
                np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        self.k += n
        return (z >> np.uint64(40)).astype(np.float64) / 16777216.0

    def drops(self, mask, q):
        """Decisions for a batch [B, N] (padding False), items in list order."""
        m = mask.numpy()
        out = np.zeros(m.shape, bool)
        out[m] = self.uniforms(int(m.sum())) < float(np.float32(q))
        return torch.from_numpy(out)


def softplus(z):
    """log(1 + e^z), stable, with the right gradient sigma(z) everywhere
    (max(z, 0) + log1p(e^-|z|) has gradient 1 at z = 0 under autograd, and
    z = 0 happens: a dropped slot's g is 0 at initialisation)."""
    return torch.logaddexp(z, torch.zeros_like(z))


class TTRModel:
    def __init__(self, cfg):
        """cfg: variant (name), F, hidden (list), rows, cols, n_contexts,
        embed_dim, bias_hidden, dot_dim, components, attn_dim, loss
        ('bce'|'softmax'), slot_dropout."""
        self.cfg = c = dict(cfg)
        v = c["variant"]
        self.variant = v
        self.f_out = c["dot_dim"] if v == "dot" else 1
        self.P = {}     # name -> Parameter (ttrank's shapes)
        self.decay = {}  # name -> L2 / weight decay applies
        F = c["F"]
        self.n_rel = len(c["hidden"]) + 1
        ins = [F] + list(c["hidden"])
        outs = list(c["hidden"]) + [self.f_out]
        for i in range(self.n_rel):
            self._t("rel.%d.w" % i, outs[i], ins[i], True)
            self._t("rel.%d.b" % i, outs[i], 1, False)
        self.h_dim = c["hidden"][-1] if c["hidden"] else F
        self.n_bias = 0 if v == "naive" else c["components"] if v == "mixem" else 1
        de, bh = c["embed_dim"], c["bias_hidden"]
        for k in range(self.n_bias):
            p = "bias%d." % k
            self._t(p + "row", c["rows"], de, True)
            self._t(p + "col", c["cols"], de, True)
            if c["n_contexts"]:
                self._t(p + "ctx", c["n_contexts"], de, True)
            if v in ("additive", "pal"):
                self._t(p + "unk", 1, de, True)
            if bh:
                self._t(p + "hid.w", bh, de, True)
                self._t(p + "hid.b", bh, 1, False)
            self._t(p + "out.w", self.f_out, bh if bh else de, True)
            self._t(p + "out.b", self.f_out, 1, False)
        if v == "mixem":
            self._t("mixem.gain", c["components"], 1, False)
            self._t("mixem.phi", c["components"], 1, False)
        if v == "xpa":
            da = c["attn_dim"]
            self._t("xpa.wq", da, de, True)
            self._t("xpa.wk", da, de, True)
            self._t("xpa.u", self.h_dim, 1, True)
            self._t("xpa.v", de, 1, True)
            self._t("xpa.c0", 1, 1, False)
        self.norm_mean = torch.zeros(F)
        self.norm_scale = torch.ones(F)
        # dot: running mean of b over training items (train.c commit_stats)
        self.bref_mean = torch.zeros(self.f_out, dtype=torch.float32)
        self.bref_count = 0.0

    def _t(self, name, rows, cols, decay):
        self.P[name] = torch.nn.Parameter(torch.zeros(rows, cols))
        self.decay[name] = decay

    def params(self):
        return list(self.P.items())

    # ---- initialisation: ttrank's scheme (model.c ttr__init_weights) -------
    def init_weights(self, seed):
        """Same distributions and scales as ttrank, drawn from torch's
        generator: He-uniform U(+-sqrt(2) sqrt(3/in)) for ReLU layers,
        U(+-sqrt(3/in)) for output layers, biases 0, embeddings U(+-0.5),
        E_unk 0; dot starts near additive (r = (f, 1, ~0..), b = (1, g, ~0..));
        MixEM gains 1, phi 0; XPA wq, wk U(+-sqrt(3/d_e)), u U(+-0.1/sqrt(H)),
        v U(+-0.1/sqrt(d_e)), c0 0."""
        g = torch.Generator().manual_seed(int(seed))
        c = self.cfg

        def uni(name, a, rows=None):
            t = self.P[name].data
            if rows is None:
                t.copy_((2 * torch.rand(t.shape, generator=g) - 1) * a)
            else:
                t[rows].copy_((2 * torch.rand(t[rows].shape, generator=g) - 1) * a)

        for name, t in self.P.items():
            t.data.zero_()
        for i in range(self.n_rel):
            w = self.P["rel.%d.w" % i]
            gain = math.sqrt(2.0) if i + 1 < self.n_rel else 1.0
            uni("rel.%d.w" % i, gain * math.sqrt(3.0 / w.shape[1]))
        for k in range(self.n_bias):
            p = "bias%d." % k
            uni(p + "row", 0.5)
            uni(p + "col", 0.5)
            if p + "ctx" in self.P:
                uni(p + "ctx", 0.5)
            if p + "hid.w" in self.P:
                uni(p + "hid.w", math.sqrt(2.0) * math.sqrt(3.0 / c["embed_dim"]))
            uni(p + "out.w", math.sqrt(3.0 / self.P[p + "out.w"].shape[1]))
        if self.variant == "dot":
            fo = self.P["rel.%d.w" % (self.n_rel - 1)].data
            fb = self.P["rel.%d.b" % (self.n_rel - 1)].data
            bo = self.P["bias0.out.w"].data
            bb = self.P["bias0.out.b"].data
            fo[1].zero_()
            fb[1] = 1.0
            bo[0].zero_()
            bb[0] = 1.0
            for r in range(2, self.f_out):
                fo[r].copy_((2 * torch.rand(fo.shape[1], generator=g) - 1) * 0.01)
                bo[r].copy_((2 * torch.rand(bo.shape[1], generator=g) - 1) * 0.01)
            self.bref_mean.zero_()
            self.bref_count = 0.0
        if self.variant == "mixem":
            self.P["mixem.gain"].data.fill_(1.0)
            self.P["mixem.phi"].data.zero_()
        if self.variant == "xpa":
            uni("xpa.wq", math.sqrt(3.0 / c["embed_dim"]))
            uni("xpa.wk", math.sqrt(3.0 / c["embed_dim"]))
            uni("xpa.u", 0.1 / math.sqrt(self.h_dim))
            uni("xpa.v", 0.1 / math.sqrt(c["embed_dim"]))

    def load_ttr(self, d):
        """Weights, normalisation and dot's b_ref from a parsed .ttr file."""
        for name, p in self.P.items():
            w = d["tensors"][name]
            assert tuple(w.shape) == tuple(p.shape), (name, w.shape, p.shape)
            p.data.copy_(torch.from_numpy(w))
        self.norm_mean = torch.from_numpy(d["tensors"]["norm.mean"].reshape(-1).copy())
        self.norm_scale = torch.from_numpy(d["tensors"]["norm.scale"].reshape(-1).copy())
        if "dot.bref" in d["tensors"]:
            self.bref_mean = torch.from_numpy(d["tensors"]["dot.bref"].reshape(-1).copy())
            self.bref_count = d["bref_count"]

    # ---- towers ------------------------------------------------------------
    def normalise(self, x):
        return (x - self.norm_mean) * self.norm_scale

    def rel(self, xn):
        """-> (f [.., f_out], h: input of the last layer)."""
        h = xn
        for i in range(self.n_rel):
            z = h @ self.P["rel.%d.w" % i].t() + self.P["rel.%d.b" % i].reshape(-1)
            if i + 1 < self.n_rel:
                h = torch.relu(z)
            else:
                return z, h

    def embed(self, k, slots, ctx, drop=None):
        c = self.cfg
        p = "bias%d." % k
        row = torch.div(slots, c["cols"], rounding_mode="floor")
        col = slots % c["cols"]
        e = self.P[p + "row"][row] + self.P[p + "col"][col]
        if p + "ctx" in self.P:
            e = e + self.P[p + "ctx"][ctx][:, None, :]
        if drop is not None:
            e = torch.where(drop[..., None], self.P[p + "unk"].reshape(-1), e)
        return e

    def bias_out(self, k, e):
        p = "bias%d." % k
        h = e
        if p + "hid.w" in self.P:
            h = torch.relu(h @ self.P[p + "hid.w"].t() + self.P[p + "hid.b"].reshape(-1))
        return h @ self.P[p + "out.w"].t() + self.P[p + "out.b"].reshape(-1)

    # ---- heads ---------------------------------------------------------------
    def forward_loss(self, xn, slots, mask, clicks, ctx, training=True, gen=None, drop=None):
        """Per-list loss [B] (float64) and extras (b of dot's items). drop:
        the slot-dropout decisions [B, N] (else drawn from gen)."""
        v = self.variant
        c = clicks.double()
        m = mask
        md = mask.double()
        f, h = self.rel(xn)
        extras = {}
        if v not in ("additive", "pal") or not training:
            drop = None
        elif drop is None and self.cfg["slot_dropout"] > 0:
            drop = (torch.rand(slots.shape, generator=gen) < self.cfg["slot_dropout"]) & m
        if v in ("naive", "additive"):
            z = f[..., 0]
            if v == "additive":
                z = z + self.bias_out(0, self.embed(0, slots, ctx, drop))[..., 0]
            zd = z.double()
            if self.cfg["loss"] == "softmax":
                zm = zd.masked_fill(~m, -math.inf)
                lse = torch.logsumexp(zm, dim=1, keepdim=True)
                return -((c * (zd - lse)) * md).sum(1), extras
            return ((softplus(zd) - c * zd) * md).sum(1), extras
        if v == "pal":
            fd = f[..., 0].double()
            gd = self.bias_out(0, self.embed(0, slots, ctx, drop))[..., 0].double()
            logp = -softplus(-fd) - softplus(-gd)
            npr = torch.sigmoid(-fd) + torch.sigmoid(fd) * torch.sigmoid(-gd)
            li = torch.where(c > 0, -logp, -torch.log(npr.clamp(min=1e-300)))
            return (li * md).sum(1), extras
        if v == "dot":
            b = self.bias_out(0, self.embed(0, slots, ctx))
            zd = (f * b).sum(-1).double()
            extras["b_sum"] = (b.detach() * mask[..., None]).sum((0, 1))
            extras["items"] = int(mask.sum())
            return ((softplus(zd) - c * zd) * md).sum(1), extras
        if v == "mixem":
            K = self.cfg["components"]
            fd = f[..., 0].double()
            gain = self.P["mixem.gain"].reshape(-1).double()
            logpi = torch.log_softmax(self.P["mixem.phi"].reshape(-1).double(), 0)
            a = []
            for k in range(K):
                gk = self.bias_out(k, self.embed(k, slots, ctx))[..., 0].double()
                z = gain[k] * fd + gk
                a.append(logpi[k] - ((softplus(z) - c * z) * md).sum(1))
            return -torch.logsumexp(torch.stack(a, 1), dim=1), extras
        if v == "xpa":
            da = self.cfg["attn_dim"]
            e = self.embed(0, slots, ctx)
            g = self.bias_out(0, e)[..., 0]
            q = e @ self.P["xpa.wq"].t()
            kk = e @ self.P["xpa.wk"].t()
            s = (q @ kk.transpose(1, 2)) * (1.0 / math.sqrt(da))
            # each item attends to the other shown items (train.c
            # mask_self_attention); one alone has an all-zero row
            eye = torch.eye(s.shape[1], dtype=torch.bool, device=s.device)
            keys = m[:, None, :] & ~eye[None]
            p = torch.softmax(s.masked_fill(~keys, -1e30), dim=2) * keys
            # the neighbour term reads h(x) but does not train the tower
            ht = p @ h.detach()
            et = p @ e
            z = (f[..., 0] + g + ht @ self.P["xpa.u"].reshape(-1) + et @ self.P["xpa.v"].reshape(-1)
                 + self.P["xpa.c0"].reshape(()))
            zd = z.double()
            return ((softplus(zd) - c * zd) * md).sum(1), extras
        raise ValueError(v)

    def commit_stats(self, extras):
        """dot: fold the batch's b into the running mean (train.c commit_stats)."""
        if self.variant != "dot" or not extras.get("items"):
            return
        items = extras["items"]
        total = self.bref_count + items
        stage = extras["b_sum"].double()
        self.bref_mean = (self.bref_mean.double()
                          + (stage - items * self.bref_mean.double()) / total).float()
        self.bref_count = total

    @torch.no_grad()
    def b_ref(self):
        """dot's serving vector: the running mean of b (--dot-serving mean) or
        b(top slot, context 0) (--dot-serving top)."""
        if self.cfg.get("dot_serving", "mean") == "top":
            zero = torch.zeros(1, 1, dtype=torch.long)
            return self.bias_out(0, self.embed(0, zero, torch.zeros(1, dtype=torch.long)))[0, 0]
        return self.bref_mean

    @torch.no_grad()
    def score(self, x):
        """Serving score of raw features x [.., F]: f(x), or r(x) . b_ref for dot."""
        f, _ = self.rel(self.normalise(x))
        if self.variant == "dot":
            return f @ self.b_ref()
        return f[..., 0]
