"""Which attention is fastest on this CPU under bf16 autocast? A forward and backward of causal attention alone, at the
presets' shapes, through SDPA (fp32 and bf16) and chapter 02's plain `attention` (bf16 and fp32), best of 5.

Usage: python bench/attention_paths.py     (prints one line per shape; bench/precision.md holds a run)
"""
import time, torch
import torch.nn.functional as F
from igpt_minimal.model import attention

SHAPES = [(64, 4, 64, 24), (64, 4, 100, 32), (64, 4, 144, 32), (64, 4, 196, 32), (16, 8, 256, 32), (2, 8, 576, 64),
          (2, 8, 1024, 64)]   # (batch, heads, T, head size): digits, fashion, 12×12, 14×14, ..., cifar10-24gb, cifar10-s


def best_ms(B, nh, T, hs, dtype, fn, reps=5):
    q, k, v = [torch.randn(B, nh, T, hs, dtype=dtype, requires_grad=True) for _ in range(3)]
    def step(): fn(q, k, v).float().sum().backward()
    step()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
    return min(ts) * 1000


PATHS = [('SDPA fp32', torch.float32, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
         ('SDPA bf16', torch.bfloat16, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
         ('plain bf16', torch.bfloat16, lambda q, k, v: attention(q, k, v)),
         ('plain fp32', torch.float32, lambda q, k, v: attention(q, k, v))]
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ms per forward + backward")
for s in SHAPES:
    print(s, '  '.join(f'{name} {best_ms(*s, dt, fn):.1f}' for name, dt, fn in PATHS), flush=True)
