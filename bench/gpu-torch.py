#!/usr/bin/env python3
"""gpu-torch.py: the same GPT-2 trained in PyTorch, the peer of gpu-bench.

GPT-2 (124M by default) as quern builds it (model/gpt.h): learned
positions, pre-LayerNorm blocks, tanh GELU, the output projection tied to
the token embedding, the vocabulary padded to a multiple of 128.  Trained
the way a PyTorch user would make it fast: fp32 weights under bf16
autocast, flash attention through scaled_dot_product_attention, fused
AdamW, torch.compile.  Prints one "torch: key=value ..." line (the same
keys as gpu-bench) for bench/gpu.sh.  Exit 77 without a GPU.

usage: gpu-torch.py [-L 12] [-H 12] [-C 768] [-T 1024] [-V 50257]
                    [-B batch, 0: the largest that fits] [-s 20] [-w 3]
                    [--no-compile]
"""
import argparse
import math
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("gpu-torch: no PyTorch")
    sys.exit(77)

PEAK = 989e12


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.attn_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.H, C // self.H).transpose(1, 2)
        k = k.view(B, T, self.H, C // self.H).transpose(1, 2)
        v = v.view(B, T, self.H, C // self.H).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x


class GPT(nn.Module):
    def __init__(self, L, H, C, T, Vp):
        super().__init__()
        self.wte = nn.Embedding(Vp, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList(Block(C, H) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for b in self.h:
            x = b(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-L", type=int, default=12)
    ap.add_argument("-H", type=int, default=12)
    ap.add_argument("-C", type=int, default=768)
    ap.add_argument("-T", type=int, default=1024)
    ap.add_argument("-V", type=int, default=50257)
    ap.add_argument("-B", type=int, default=0)
    ap.add_argument("-s", type=int, default=20)
    ap.add_argument("-w", type=int, default=3)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("gpu-torch: no CUDA device")
        sys.exit(77)
    torch.manual_seed(1337)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = "cuda"
    Vp = (a.V + 127) // 128 * 128
    print(f"# torch {torch.__version__}, {torch.cuda.get_device_name()}")

    def attempt(B):
        model = GPT(a.L, a.H, a.C, a.T, Vp).to(dev)
        nparams = sum(p.numel() for p in model.parameters())
        decay = [p for p in model.parameters() if p.dim() >= 2]
        rest = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                 {"params": rest, "weight_decay": 0.0}],
                                lr=6e-4, betas=(0.9, 0.95), eps=1e-8, fused=True)
        fwd = model if a.no_compile else torch.compile(model)
        g = torch.Generator(device=dev).manual_seed(1)
        x = torch.randint(0, a.V, (B, a.T), device=dev, generator=g)
        y = torch.randint(0, a.V, (B, a.T), device=dev, generator=g)

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                loss = fwd(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss

        for _ in range(max(a.w, 1)):
            loss = step()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.s):
            loss = step()
        torch.cuda.synchronize()
        return time.perf_counter() - t0, nparams, loss.item()

    tries = [a.B] if a.B else [64, 48, 32, 24, 16, 12, 8, 4, 2, 1]
    for B in tries:
        try:
            dt, nparams, loss = attempt(B)
            break
        except torch.cuda.OutOfMemoryError:
            print(f"# batch {B}: out of memory")
            torch.cuda.empty_cache()
    else:
        print("gpu-torch: no batch fits")
        sys.exit(1)

    n = 8192
    m1 = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    m2 = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    for _ in range(3):
        m1 @ m2
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        m1 @ m2
    torch.cuda.synchronize()
    gemm = 2 * n ** 3 * 20 / (time.perf_counter() - t0) / 1e12

    tps = B * a.T * a.s / dt
    fpt = 6 * nparams + 6 * a.L * a.C * a.T
    print(f"# {nparams} parameters, batch {B} x {a.T}, "
          f"peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    print(f"torch: B={B} T={a.T} ms_per_step={dt / a.s * 1e3:.1f} tokens_per_s={tps:.0f} "
          f"tflops={tps * fpt / 1e12:.1f} mfu={tps * fpt / PEAK:.4f} gemm_tflops={gemm:.1f} "
          f"mfu_vs_gemm={tps * fpt / (gemm * 1e12):.4f} loss={loss:.4f}")


if __name__ == "__main__":
    main()
