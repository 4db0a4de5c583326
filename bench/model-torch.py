#!/usr/bin/env python3
"""model-torch.py: PyTorch's CPU time for the training step model-bench
times (forward, backward, AdamW), the same model written out in
tests/model/gpt_torch.py, for bench/model.sh to run side by side.

    model-torch.py L HEADS WIDTH T B VOCAB STEPS
"""
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "model"))
import gpt_torch  # noqa: E402


def main():
    L, NH, C, T, B, V, steps = (int(a) for a in sys.argv[1:8])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    torch.manual_seed(1)
    Vp = (V + 127) // 128 * 128
    p = {}
    for name, shape in gpt_torch.shapes(T, Vp, L, C).items():
        t = torch.randn(shape) * 0.02 if name in gpt_torch.DECAYS else torch.zeros(shape)
        if name in ("ln1w", "ln2w", "lnfw"):
            t = torch.ones(shape)
        p[name] = torch.nn.Parameter(t)
    inp = torch.randint(0, V, (B, T))
    tgt = torch.randint(0, V, (B, T))
    opt = torch.optim.AdamW(
        [{"params": [p[n] for n in gpt_torch.NAMES if n in gpt_torch.DECAYS], "weight_decay": 0.1},
         {"params": [p[n] for n in gpt_torch.NAMES if n not in gpt_torch.DECAYS], "weight_decay": 0.0}],
        lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    for step in range(steps + 1):
        if step == 1:
            t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        _, loss = gpt_torch.forward(p, inp, tgt, L, NH, C, V)
        loss.backward()
        opt.step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = torch.get_num_threads()
    print("pytorch %s: %.1f ms/step, %.0f tokens/s; CPU time %.1f ms/step over %d threads (%.1f ms/step alone)"
          % (torch.__version__, 1000 * wall / steps, B * T * steps / wall, 1000 * cpu / steps, n,
             1000 * cpu / steps / n))
    print("RESULT ms_per_step=%.2f cpu_ms_per_step=%.2f" % (1000 * wall / steps, 1000 * cpu / steps))


if __name__ == "__main__":
    main()
