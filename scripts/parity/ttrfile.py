"""Reader of ttrank's .ttr model file (include/ttr_io.h): little-endian
header, the configuration, (version 3: the schedule block: lr_schedule,
weight_decay, warmup, decay_steps), (version 4: the metadata block: writer
version, impressions, tag), the training state and named f32 tensor records
(with optional optimizer arrays), CRC-32 at the end (docs/formats.md)."""
import struct
import zlib

import numpy as np

CFG_U32 = ["variant", "n_features", "n_hidden", "hidden0", "hidden1", "hidden2", "hidden3",
           "rows", "cols", "n_contexts", "embed_dim", "bias_hidden", "dot_dim", "components",
           "attn_dim", "max_items", "max_batch", "loss", "optimizer"]
CFG_F32 = ["lr", "beta1", "beta2", "adam_eps", "momentum", "l2", "clip_norm", "slot_dropout"]
VARIANTS = ["naive", "additive", "pal", "dot", "mixem", "xpa"]


def read_ttr(path):
    """-> dict(cfg, mode, flags, step, rng, bref_count, tensors={name: w},
    state={name: (s1, s2)})."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"TTRK":
        raise ValueError("%s: not a .ttr file" % path)
    crc = struct.unpack_from("<I", b, len(b) - 4)[0]
    if zlib.crc32(b[:-4]) & 0xFFFFFFFF != crc:
        raise ValueError("%s: bad CRC" % path)
    version, mode, flags = struct.unpack_from("<III", b, 4)
    u = struct.unpack_from("<19I", b, 16)
    fl = struct.unpack_from("<8f", b, 16 + 76)
    dot_serving, = struct.unpack_from("<I", b, 16 + 108)
    seed, = struct.unpack_from("<Q", b, 16 + 112)
    cfg = dict(zip(CFG_U32, u))
    cfg.update(zip(CFG_F32, fl))
    cfg["dot_serving"] = dot_serving
    cfg["seed"] = seed
    cfg["hidden"] = [cfg["hidden%d" % i] for i in range(cfg["n_hidden"])]
    cfg["variant_name"] = VARIANTS[cfg["variant"]]
    at = 136
    cfg.update(lr_schedule=0, warmup=0, decay_steps=0, weight_decay=0.0)
    if version >= 3 and mode == 0:
        # the version-3 training block (a schedule or decoupled weight decay)
        sch, wd, warm, dsteps = struct.unpack_from("<IfQQ", b, at)
        cfg.update(lr_schedule=sch, warmup=warm, decay_steps=dsteps, weight_decay=wd)
        at += 24
    impressions, tag = 0, ""
    if version >= 4:
        _writer, tag_len, impressions = struct.unpack_from("<IIQ", b, at)
        tag = b[at + 16: at + 16 + min(tag_len, 48)].decode("ascii", "replace")
        at += 64
    step, rng = struct.unpack_from("<QQ", b, at)
    bref_count, = struct.unpack_from("<d", b, at + 16)
    n_rec, = struct.unpack_from("<I", b, at + 24)
    at += 28
    tensors, state = {}, {}
    for _ in range(n_rec):
        ln, = struct.unpack_from("<I", b, at)
        at += 4
        name = b[at: at + ln].decode()
        at += ln
        dtype, rows, cols, n_state = struct.unpack_from("<IIII", b, at)
        at += 16
        n = rows * cols
        if dtype != 0:
            raise ValueError("%s: int8 record %s not supported" % (path, name))
        arrs = []
        for _k in range(1 + n_state):
            arrs.append(np.frombuffer(b, "<f4", n, at).reshape(rows, cols).copy())
            at += 4 * n
        tensors[name] = arrs[0]
        if n_state:
            state[name] = tuple(arrs[1:]) + (None,) * (2 - n_state)
    if at != len(b) - 4:
        raise ValueError("%s: %d trailing bytes" % (path, len(b) - 4 - at))
    return {"cfg": cfg, "version": version, "mode": mode, "flags": flags, "step": step,
            "rng": rng, "bref_count": bref_count, "tensors": tensors, "state": state,
            "impressions": impressions, "tag": tag}
