#!/usr/bin/env python3
"""gpt_torch.py: the GPT-2 model of model/gpt.h in PyTorch, for the
comparison test tests/unit/t_gpt_torch.c.

    gpt_torch.py IN OUT

IN (written by the test, little-endian):
    int32 x 12: magic 0x71677074, max_seq, vocab, padded_vocab, n_layer,
                n_head, channels, B, T, steps, 0, 0
    float32 x nparams: the parameters in gpt.h's order and shapes
    int32 x B*T: inputs;  int32 x B*T: targets
    float32 x 5: lr, beta1, beta2, eps, weight decay

OUT: float32 arrays, one after the other:
    logits [B, T, Vp] and the loss of the first forward,
    the gradient of every parameter (gpt.h's order) of the first backward,
    the loss at each of `steps` AdamW steps (torch.optim.AdamW, decay on
    wte, wpe, qkvw, attprojw, fcw and fcprojw as qn_gpt_param_decays).

The model is written out by hand with llm.c's tensors (not torch.nn
modules), so that the layout is visibly the same: pre-LayerNorm blocks,
causal attention scaled by 1/sqrt(head size), GELU (tanh), the output
projection tied to wte, cross-entropy over the first V of Vp columns.
"""
import math
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = 0x71677074
NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
DECAYS = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def shapes(maxT, Vp, L, C):
    return {"wte": (Vp, C), "wpe": (maxT, C), "ln1w": (L, C), "ln1b": (L, C),
            "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C), "attprojw": (L, C, C),
            "attprojb": (L, C), "ln2w": (L, C), "ln2b": (L, C),
            "fcw": (L, 4 * C, C), "fcb": (L, 4 * C), "fcprojw": (L, C, 4 * C),
            "fcprojb": (L, C), "lnfw": (C,), "lnfb": (C,)}


def forward(p, inp, tgt, L, NH, C, V):
    B, T = inp.shape
    hs = C // NH
    x = p["wte"][inp] + p["wpe"][:T]
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]
        q, k, v = qkv.split(C, dim=2)
        q = q.view(B, T, NH, hs).transpose(1, 2)
        k = k.view(B, T, NH, hs).transpose(1, 2)
        v = v.view(B, T, NH, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p["attprojw"][l].T + p["attprojb"][l]
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(h @ p["fcw"][l].T + p["fcb"][l], approximate="tanh")
        x = x + h @ p["fcprojw"][l].T + p["fcprojb"][l]
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    logits = x @ p["wte"].T
    loss = F.cross_entropy(logits[:, :, :V].reshape(-1, V), tgt.reshape(-1))
    return logits, loss


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    hdr = struct.unpack_from("<12i", data, 0)
    if hdr[0] != MAGIC:
        sys.exit("gpt_torch.py: %s: bad magic" % sys.argv[1])
    maxT, V, Vp, L, NH, C, B, T, steps = hdr[1:10]
    off = 48
    p = {}
    for name in NAMES:
        shape = shapes(maxT, Vp, L, C)[name]
        n = math.prod(shape)
        t = torch.frombuffer(bytearray(data[off:off + 4 * n]), dtype=torch.float32)
        p[name] = torch.nn.Parameter(t.reshape(shape).clone())
        off += 4 * n
    inp = torch.frombuffer(bytearray(data[off:off + 4 * B * T]), dtype=torch.int32)
    off += 4 * B * T
    tgt = torch.frombuffer(bytearray(data[off:off + 4 * B * T]), dtype=torch.int32)
    off += 4 * B * T
    lr, beta1, beta2, eps, wd = struct.unpack_from("<5f", data, off)
    inp = inp.long().reshape(B, T)
    tgt = tgt.long().reshape(B, T)

    out = []
    logits, loss = forward(p, inp, tgt, L, NH, C, V)
    loss.backward()
    out.append(logits.detach().reshape(-1))
    out.append(loss.detach().reshape(1))
    for name in NAMES:
        out.append(p[name].grad.detach().clone().reshape(-1))

    opt = torch.optim.AdamW(
        [{"params": [p[n] for n in NAMES if n in DECAYS], "weight_decay": wd},
         {"params": [p[n] for n in NAMES if n not in DECAYS], "weight_decay": 0.0}],
        lr=lr, betas=(beta1, beta2), eps=eps)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        _, loss = forward(p, inp, tgt, L, NH, C, V)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out.append(torch.tensor(losses, dtype=torch.float32))
    with open(sys.argv[2], "wb") as f:
        for t in out:
            f.write(t.to(torch.float32).contiguous().numpy().tobytes())


if __name__ == "__main__":
    main()
