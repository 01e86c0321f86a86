"""Readers for ttrank's click log and for LETOR/SVMlight files, with an npz cache.

Click log (the format ttrank simulate writes, include/ttr_data.h):
    # ttrank-clicks v1 rows=R cols=C F=N
    c qid:L pos:P [ctx:K] 1:v 2:v ... [# comment]
one line per shown item; a list is a run of lines with the same qid; features
are sparse, 1-based, missing = 0.

Both readers return lists padded to the longest list (N items):
    x [L, N, F] float32, slots [L, N] int64, clicks/labels [L, N] float32,
    mask [L, N] bool, ctx [L] int64, qid [L] int64, n [L] int64.
Numbers are parsed as double and rounded to float32 (ttrank's reader rounds
the decimal string to float32 directly; the two differ only on rare double-
rounding ties).
"""
import hashlib
import os
import re

import numpy as np

_HDR = re.compile(r"#\s*ttrank-clicks\s+v1\s+rows=(\d+)\s+cols=(\d+)\s+F=(\d+)")


def _cache_path(path, work, tag):
    st = os.stat(path)
    key = "%s|%d|%d|%s" % (os.path.abspath(path), st.st_size, int(st.st_mtime_ns), tag)
    h = hashlib.sha1(key.encode()).hexdigest()[:16]
    return os.path.join(work, "cache-%s-%s.npz" % (os.path.basename(path), h))


def _parse_lines(lines, n_features, head_fields):
    """Parse data lines: the first token (click/label), named fields
    (qid, pos, ctx) and sparse features. Returns label array, a dict of
    named-field arrays and x [items, F]."""
    n = len(lines)
    label = np.empty(n, np.float64)
    fields = {k: np.full(n, -1, np.int64) for k in head_fields}
    feat_parts = []
    counts = np.empty(n, np.int64)
    for i, ln in enumerate(lines):
        c = ln.find("#")
        if c >= 0:
            ln = ln[:c]
        toks = ln.split()
        label[i] = float(toks[0])
        j = 1
        while j < len(toks) and toks[j][0].isalpha():
            k, v = toks[j].split(":", 1)
            fields[k][i] = int(v)
            j += 1
        rest = toks[j:]
        counts[i] = len(rest)
        feat_parts.append(" ".join(rest))
    big = " ".join(feat_parts).replace(":", " ")
    vals = np.array(big.split(), dtype=np.float64) if big.strip() else np.zeros(0)
    idx = vals[0::2].astype(np.int64) - 1
    val = vals[1::2].astype(np.float32)
    row = np.repeat(np.arange(n), counts)
    if n_features is None:
        n_features = int(idx.max()) + 1 if idx.size else 1
    keep = idx < n_features
    x = np.zeros((n, n_features), np.float32)
    x[row[keep], idx[keep]] = val[keep]
    return label, fields, x, n_features


def _pad(group_start, label, x, per_item):
    """Items -> padded lists. group_start: index of each list's first item."""
    n_items = label.shape[0]
    starts = np.asarray(group_start, np.int64)
    ends = np.append(starts[1:], n_items)
    n = ends - starts
    L, N, F = len(starts), int(n.max()), x.shape[1]
    li = np.repeat(np.arange(L), n)
    pos = np.arange(n_items) - np.repeat(starts, n)
    X = np.zeros((L, N, F), np.float32)
    X[li, pos] = x
    lab = np.zeros((L, N), np.float32)
    lab[li, pos] = label
    mask = np.zeros((L, N), bool)
    mask[li, pos] = True
    out = {"x": X, "label": lab, "mask": mask, "n": n}
    for k, a in per_item.items():
        b = np.zeros((L, N), np.int64)
        b[li, pos] = a
        out[k] = b
    return out, starts


def read_clicks(path, work=None):
    """A click log -> dict(x, clicks, slots, mask, ctx, n, rows, cols, F, items_x)."""
    cp = _cache_path(path, work, "clicks1") if work else None
    if cp and os.path.exists(cp):
        d = dict(np.load(cp))
        return {k: (v.item() if v.ndim == 0 else v) for k, v in d.items()}
    with open(path) as f:
        first = f.readline()
        m = _HDR.match(first)
        lines = [] if m else [first]
        lines += [ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    rows = cols = F = None
    if m:
        rows, cols, F = int(m.group(1)), int(m.group(2)), int(m.group(3))
    label, fields, x, F = _parse_lines(lines, F, ("qid", "pos", "ctx"))
    qid = fields["qid"]
    starts = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1]])
    d, starts = _pad(starts, label, x, {"slots": fields["pos"]})
    ctx = fields["ctx"][starts]
    has_ctx = bool((ctx >= 0).any())
    ctx = np.maximum(ctx, 0)
    if rows is None:
        rows, cols = int(fields["pos"].max()) + 1, 1
    out = {"x": d["x"], "clicks": d["label"], "slots": d["slots"], "mask": d["mask"],
           "ctx": ctx, "n": d["n"], "rows": rows, "cols": cols, "F": F,
           "has_ctx": has_ctx, "n_contexts": int(ctx.max()) + 1 if has_ctx else 0}
    if cp:
        np.savez(cp, **out)
    return out


def read_letor(path, n_features, query=None, work=None):
    """A LETOR/SVMlight file (qid: or a LightGBM .query group file; default
    PATH.query when it exists) -> dict(x, label, mask, n, qid)."""
    if query is None and os.path.exists(path + ".query"):
        query = path + ".query"
    cp = _cache_path(path, work, "letor1-%d-%s" % (n_features, query)) if work else None
    if cp and os.path.exists(cp):
        return dict(np.load(cp))
    with open(path) as f:
        lines = [ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    label, fields, x, _ = _parse_lines(lines, n_features, ("qid",))
    if query:
        sizes = np.loadtxt(query, dtype=np.int64, ndmin=1)
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
    else:
        qid = fields["qid"]
        starts = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1]])
    d, starts = _pad(starts, label, x, {})
    d["qid"] = np.arange(len(starts))
    if cp:
        np.savez(cp, **d)
    return d
