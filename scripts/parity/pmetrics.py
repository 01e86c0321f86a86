"""NDCG@k as src/metrics.c computes it: gain 2^y - 1 (labels rounded to
integers), discount 1 / log2(rank + 2), items ranked by score descending with
ties in input order (a stable sort), the ideal DCG from the labels sorted
descending; a query without a relevant item (every label 0) is skipped; the
result is the mean over the counted queries. Scores are float32 as in ttrank."""
import numpy as np


def ndcg_per_query(scores, labels, n, k):
    """scores, labels: [Q, N] padded; n: items per query. Returns (values of
    counted queries, number skipped)."""
    vals = []
    skipped = 0
    for q in range(len(n)):
        m = int(n[q])
        y = np.floor(labels[q, :m].astype(np.float64) + 0.5).astype(np.int64)
        if not (y > 0).any():
            skipped += 1
            continue
        s = scores[q, :m].astype(np.float32)
        order = np.argsort(-s, kind="stable")  # ties keep input order
        disc = 1.0 / np.log2(np.arange(m) + 2.0)
        g = (2.0 ** y) - 1.0
        top = min(k, m)
        dcg = float(np.sum(g[order][:top] * disc[:top]))
        ideal = np.sort(y)[::-1]
        idcg = float(np.sum(((2.0 ** ideal) - 1.0)[:top] * disc[:top]))
        vals.append(dcg / idcg)
    return np.array(vals), skipped


def ndcg(scores, labels, n, k):
    v, _ = ndcg_per_query(scores, labels, n, k)
    return float(v.mean()) if v.size else 0.0


def flat_to_padded(flat, n):
    """One score per input line (ttrank rank) -> [Q, N] padded."""
    Q, N = len(n), int(max(n))
    out = np.zeros((Q, N), np.float32)
    at = 0
    for q in range(Q):
        out[q, : n[q]] = flat[at: at + n[q]]
        at += n[q]
    return out
