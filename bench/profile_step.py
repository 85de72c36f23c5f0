"""Where the time of a training step goes: torch.profiler on igpt_minimal and Hugging Face ImageGPT, side by side.

Usage: python bench/profile_step.py [--steps N]      writes bench/profile.md and prints it.
Same configurations, data, loss and optimiser as bench/run.py's training section. Each aten op's *self* time (time not
spent in ops it calls) is summed over N profiled steps, after one unprofiled warm-up step, and put in one category, so a
difference in total step time splits into linear-layer matmuls, attention, norms, the optimiser, and everything else.
"""
import argparse, time
from collections import defaultdict
from pathlib import Path
import torch
from torch.profiler import profile, ProfilerActivity
from run import TRAIN_CONFIGS, hardware, make_models, train_step_fns

ROOT = Path(__file__).resolve().parent
CATEGORIES = [  # (category, substrings of aten op names); first match wins
    ('attention: fused SDPA kernel', ('scaled_dot_product', 'flash_attention', 'efficient_attention')),
    ('attention: unfused (bmm, softmax, mask, scale)', ('bmm', 'baddbmm', 'softmax', 'masked_fill', 'aten::where')),
    ('linear layers (mm, addmm)', ('aten::mm', 'aten::addmm')),
    ('norms', ('layer_norm', 'rms_norm')),
    ('optimiser (AdamW)', ('_foreach', 'adam')),
    ('loss', ('cross_entropy', 'nll_loss', 'log_softmax')),
    ('activation', ('gelu', 'silu', 'sigmoid', 'tanh')),
    ('copies and layout (copy_, cat, clone, contiguous)', ('copy_', 'aten::cat', 'clone', 'contiguous', 'to_copy', 'aten::t', 'transpose', 'view', 'reshape', 'permute', 'split', 'chunk', 'unsafe', 'slice', 'select', 'expand', 'as_strided')),
    ('other elementwise (add, mul, fill, ...)', ('',)),
]


def categorise(name):
    return next(c for c, keys in CATEGORIES if any(k in name for k in keys))


def profile_step(fn, steps):
    "Self CPU time (ms) per category and per op, summed over `steps` profiled calls of `fn`, and the wall time per step."
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for _ in range(steps): fn()
        wall = (time.perf_counter() - t) / steps
    cats, ops = defaultdict(float), defaultdict(float)
    for e in prof.key_averages():
        if not e.key.startswith('aten::'): continue          # autograd nodes and Python frames: their aten children carry the time
        ms = e.self_cpu_time_total / 1e3 / steps
        cats[categorise(e.key)] += ms; ops[e.key] += ms
    return cats, ops, wall * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--steps', type=int, default=3); ap.add_argument('--out', default=str(ROOT / 'profile.md'))
    a = ap.parse_args()
    hw = hardware()
    L = ["# Where a training step's time goes: igpt_minimal vs Hugging Face ImageGPT", "",
         f"Profiled {time.strftime('%Y-%m-%d')} on {hw['cpu']}, {hw['cores']} cores, {hw['threads']} torch threads, torch {hw['torch']}, "
         f"GPU: {hw['gpu']}, with `python bench/profile_step.py --steps {a.steps}`. Milliseconds of aten self time per training step "
         "(forward, backward, AdamW), summed by category; the profiler's own overhead makes wall times longer than in results.md.", ""]
    for name, c in TRAIN_CONFIGS.items():
        ours, hf = make_models(c['T'], c['L'], c['D'])
        x = torch.randint(0, 512, (c['B'], c['T']))
        so, sh = train_step_fns(ours, hf, x)
        (co, oo, wo), (ch, oh, wh) = profile_step(so, a.steps), profile_step(sh, a.steps)
        L += [f"## {name}: {c['L']} layers x {c['D']} wide, {c['T']} tokens, batch {c['B']}", "",
              "| category | igpt_minimal ms | Hugging Face ms | HF - ours ms |", "|---|---|---|---|"]
        for cat, _ in CATEGORIES:
            if co[cat] or ch[cat]: L.append(f"| {cat} | {co[cat]:,.1f} | {ch[cat]:,.1f} | {ch[cat] - co[cat]:+,.1f} |")
        L.append(f"| **sum of op self times** | **{sum(co.values()):,.1f}** | **{sum(ch.values()):,.1f}** | **{sum(ch.values()) - sum(co.values()):+,.1f}** |")
        L.append(f"| wall time per step (profiled) | {wo:,.1f} | {wh:,.1f} | {wh - wo:+,.1f} |")
        for who, ops in (('igpt_minimal', oo), ('Hugging Face', oh)):
            top = sorted(ops.items(), key=lambda kv: -kv[1])[:8]
            L += ["", f"Top ops, {who}: " + '; '.join(f"`{k[6:]}` {v:,.1f}" for k, v in top) + "."]
        L.append("")
    text = '\n'.join(L)
    print(text); Path(a.out).write_text(text)


if __name__ == '__main__':
    main()
