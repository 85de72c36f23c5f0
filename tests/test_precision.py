"""Precision and speed paths: every attention path equals the plain one (values and gradients), what `auto` chooses
and why, bf16 training that is deterministic and resumes exactly with fp32 master weights, and torch.compile with
one graph, no recompiles, and a clean fall-back to eager."""
import pytest, torch
import torch.nn.functional as F
import igpt_minimal.model as model_mod
from igpt_minimal.model import IGPT, IGPTConfig, attention, attend, resolve_precision, autocast
from igpt_minimal.train import get_preset, train, TrainConfig, RunConfig, config_from_dict
from igpt_minimal.sample import generate
from igpt_minimal.probe import extract_features

FAST_BF16 = resolve_precision('auto', 'cpu')[0] == 'bf16'
needs_bf16 = pytest.mark.skipif(not FAST_BF16, reason="this CPU has no AMX-BF16 or AVX512-BF16, so bf16 is "
                                "not what 'auto' picks here (bf16 still works, slowly; the fp32 path is tested)")


def _qkv(T, S, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, n, 8, generator=g).to(dtype).requires_grad_(True) for n in (T, S, S)]


@pytest.mark.parametrize('causal', [True, False])
@pytest.mark.parametrize('T,S', [(10, 10), (4, 10), (1, 10)])   # training; queries after cached keys; one query
def test_every_attention_path_equals_plain(causal, T, S):
    for dtype, tol, fast in ((torch.float32, 1e-5, attend),                     # SDPA on a CPU in fp32
                             (torch.bfloat16, 2e-2, F.scaled_dot_product_attention)):  # what CUDA runs in bf16
        q, k, v = _qkv(T, S, dtype)
        ref = attention(q, k, v, causal)
        gref = torch.autograd.grad(ref.float().square().sum(), (q, k, v))
        q2, k2, v2 = _qkv(T, S, dtype)
        if fast is attend: out = attend(q2, k2, v2, causal)
        else:
            mask = torch.ones(T, S, dtype=torch.bool).tril(S - T) if causal else None
            out = fast(q2, k2, v2, attn_mask=mask)
        g = torch.autograd.grad(out.float().square().sum(), (q2, k2, v2))
        torch.testing.assert_close(out.float(), ref.float(), atol=tol, rtol=tol)
        for a, b in zip(g, gref): torch.testing.assert_close(a.float(), b.float(), atol=5 * tol, rtol=5 * tol)


def test_cpu_bf16_path_by_sequence_length():
    "Up to PLAIN_MAX_KEYS keys a CPU in bf16 takes the plain path; beyond, SDPA (bench/precision.md: faster there)."
    from igpt_minimal.model import PLAIN_MAX_KEYS
    q, k, v = _qkv(6, 6, torch.bfloat16)
    assert torch.equal(attend(q, k, v), attention(q, k, v))
    n = PLAIN_MAX_KEYS + 1
    q, k, v = (t.detach() for t in _qkv(n, n, torch.bfloat16))
    assert torch.equal(attend(q, k, v), F.scaled_dot_product_attention(q, k, v, is_causal=True))
    torch.testing.assert_close(attend(q, k, v).float(), attention(q, k, v).float(), atol=2e-2, rtol=2e-2)


def test_plain_attention_softmax_is_fp32():
    "Scores too large for bf16's 8-bit mantissa to rank still give fp32's weights."
    q, k, v = (t.detach() for t in _qkv(5, 5, torch.bfloat16))
    ref = attention(q.float(), k.float(), v.float())
    torch.testing.assert_close(attention(q, k, v).float(), ref, atol=3e-2, rtol=3e-2)


def test_bf16_model_close_to_fp32_in_values_and_gradients():
    torch.manual_seed(0)
    m = IGPT(IGPTConfig(n_colors=16, n_positions=64, n_embd=64, n_layer=2, n_head=4))
    torch.nn.init.normal_(m.head.weight, std=0.02)
    x = torch.randint(0, 16, (4, 64))
    grads = {}
    for prec in ('fp32', 'bf16'):
        m.zero_grad()
        with autocast(prec, 'cpu'): loss = F.cross_entropy(m(x).flatten(0, 1).float(), x.flatten())
        loss.backward()
        grads[prec] = (loss.item(), torch.cat([p.grad.flatten() for p in m.parameters()]))
    assert abs(grads['bf16'][0] - grads['fp32'][0]) < 1e-2
    g32, g16 = grads['fp32'][1], grads['bf16'][1]
    assert F.cosine_similarity(g32, g16, dim=0) > 0.99
    assert all(p.dtype == torch.float32 for p in m.parameters())


def test_resolve_precision(monkeypatch):
    assert resolve_precision('fp32', 'cpu') == ('fp32', 'asked for')
    assert resolve_precision('bf16', 'cpu') == ('bf16', 'asked for')
    monkeypatch.setattr(model_mod, '_cpu_flags', lambda: {'avx2', 'amx_bf16', 'avx512_bf16'})
    assert resolve_precision('auto', 'cpu') == ('bf16', 'a CPU with AMX-BF16 and AVX512-BF16')
    monkeypatch.setattr(model_mod, '_cpu_flags', lambda: {'avx2', 'fma'})
    assert resolve_precision('auto', 'cpu') == ('fp32', 'this CPU has no AMX-BF16 or AVX512-BF16')
    assert resolve_precision('auto', 'meta')[0] == 'fp32'
    for cc, want in (((7, 5), 'fp32'), ((8, 0), 'bf16'), ((10, 0), 'bf16')):   # T4; A100; Blackwell
        monkeypatch.setattr(torch.cuda, 'get_device_capability', lambda dev=None, cc=cc: cc)
        assert resolve_precision('auto', 'cuda')[0] == want
    with pytest.raises(ValueError, match="'auto', 'bf16' or 'fp32'"): resolve_precision('fp16', 'cpu')
    with pytest.raises(ValueError, match="precision must be"): TrainConfig(precision='half')
    with pytest.raises(ValueError, match="compile must be"): RunConfig(compile='yes')


def test_configs_from_before_the_setting():
    old = {k: v for k, v in get_preset('digits').__dict__.items() if k not in ('precision', 'compile')}
    cfg = config_from_dict({**old, 'model': old['model'].__dict__, 'compile': True})
    assert (cfg.precision, cfg.compile) == ('fp32', 'on')     # trained in fp32; compile as it was asked


@needs_bf16
def test_bf16_training_deterministic_resumes_exactly_fp32_master(tmp_path, tokens):
    cfg = get_preset('tiny', precision='bf16', max_steps=8, ckpt_every=2)
    a = train(cfg, tokens, out_dir=tmp_path / 'a', progress=False)
    b = train(cfg, tokens, progress=False)
    assert [r['loss'] for r in a.history] == [r['loss'] for r in b.history]
    train(cfg, tokens, out_dir=tmp_path / 'c', until=5, progress=False)
    c = train(cfg, tokens, out_dir=tmp_path / 'c', resume=True, progress=False)
    for p, q in zip(a.model.state_dict().values(), c.model.state_dict().values()):
        assert p.dtype == torch.float32 and torch.equal(p, q)
    f32 = train(get_preset('tiny', max_steps=8), tokens, progress=False)
    assert abs(f32.history[-1]['loss'] - a.history[-1]['loss']) < 0.02


def test_compiled_training_one_graph_no_recompiles_equal_to_eager(tokens):
    import torch._dynamo
    prec = 'bf16' if FAST_BF16 else 'fp32'
    cfg = get_preset('tiny', precision=prec, max_steps=12, eval_every=4, compile='on')
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    with torch._dynamo.config.patch(error_on_recompile=True):       # a recompile would raise
        comp = train(cfg, tokens, tokens[:64], progress=False)
    assert torch._dynamo.utils.counters['stats']['unique_graphs'] == 1
    eager = train(get_preset('tiny', precision=prec, max_steps=12, eval_every=4, compile='off'), tokens,
                  tokens[:64], progress=False)
    for c, e in zip(comp.history, eager.history):
        assert abs(c['loss'] - e['loss']) < 0.02 * e['loss']


def test_a_failing_compiler_falls_back_to_eager(tokens, capsys):
    import torch._dynamo, torch._inductor.config as ic
    cfg = get_preset('tiny', max_steps=3, compile='on')
    torch._dynamo.reset()
    with ic.patch({'cpp.cxx': ('/nonexistent/c++',)}):
        res = train(cfg, tokens, progress=True)
    assert 'torch.compile failed' in capsys.readouterr().out
    eager = train(get_preset('tiny', max_steps=3, compile='off'), tokens, progress=False)
    assert [r['loss'] for r in res.history] == [r['loss'] for r in eager.history]


def test_sampling_and_features_in_bf16():
    torch.manual_seed(0)
    m = IGPT(IGPTConfig(n_colors=16, n_positions=64, n_embd=32, n_layer=2, n_head=4)).eval()
    torch.nn.init.normal_(m.head.weight, std=0.5)
    with autocast('bf16', 'cpu'): assert m.new_cache(2).k[0].dtype == torch.bfloat16   # no re-cast per step
    assert m.new_cache(2).k[0].dtype == torch.float32
    out = generate(m, torch.randint(0, 16, (2, 8)), 20, top_k=1, precision='bf16')
    assert out.shape == (2, 28) and out.max() < 16
    x = torch.randint(0, 16, (8, 64))
    f16, f32 = (extract_features(m, x, 'all', precision=p) for p in ('bf16', 'fp32'))
    for l in f32:
        assert f16[l].dtype == torch.float32
        torch.testing.assert_close(f16[l], f32[l], atol=5e-2, rtol=5e-2)


def test_the_run_log_says_what_was_chosen_and_why(tmp_path, tokens):
    import json
    train(get_preset('tiny', max_steps=2, log_every=1), tokens, out_dir=tmp_path, progress=False)
    first = json.loads((tmp_path / 'metrics.jsonl').read_text().splitlines()[0])
    assert (first['precision'], first['precision_why'], first['compile']) == ('fp32', 'asked for', False)
    assert 'earn back compiling' in first['compile_why']


def test_a_resumed_run_keeps_its_precision_and_compile_choice(tmp_path, tokens, monkeypatch):
    "auto resolves once, when the run starts: a resume on another machine, or later in the run, changes nothing."
    import json
    import igpt_minimal.scale as scale_mod
    import igpt_minimal.train as train_mod
    monkeypatch.setattr(scale_mod, 'COMPILE_MIN_STEPS', 8)                 # this 8-step run 'earns' compiling
    monkeypatch.setattr(train_mod.torch, 'compile', lambda m, **kw: m)    # ... which is not the point here
    monkeypatch.setattr(model_mod, '_cpu_flags', lambda: set())           # started where auto means fp32
    cfg = get_preset('tiny', precision='auto', compile='auto', max_steps=8, ckpt_every=2, log_every=1)
    whole = train(cfg, tokens, progress=False)
    train(cfg, tokens, out_dir=tmp_path, until=5, progress=False)
    monkeypatch.setattr(model_mod, '_cpu_flags', lambda: {'avx512_bf16'})  # resumed where auto means bf16
    resumed = train(cfg, tokens, out_dir=tmp_path, resume=True, progress=False)
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    first = [json.loads(l) for l in (tmp_path / 'metrics.jsonl').read_text().splitlines() if 'precision' in l]
    assert [(r['precision'], r['compile']) for r in first] == [('fp32', True), ('fp32', True)]
    assert first[1]['precision_why'] == "the run's own, resumed"


def test_nothing_to_train_on_or_evaluate(tokens):
    with pytest.raises(ValueError, match='holds no sequences: there is nothing'):
        train(get_preset('tiny'), tokens[:0], progress=False)
    with pytest.raises(ValueError, match='val_tokens=None'):
        train(get_preset('tiny'), tokens, tokens[:0], progress=False)
    with pytest.raises(ValueError, match='eval_samples must be >= 1'):
        get_preset('tiny', eval_samples=0)
