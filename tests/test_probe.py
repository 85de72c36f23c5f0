"""Tests of the installed igpt_minimal.probe. nbs/06_probe.ipynb checks the features against the model's hidden states,
the probe against scikit-learn and early stopping; nbs/A9_evaluation.ipynb the layer choice and the report."""
import pytest
import torch
from igpt_minimal.model import IGPT, IGPTConfig
from igpt_minimal.probe import extract_features, linear_probe, probe_layers, finetune
from igpt_minimal.evaluation import plot_probe_layers, select_layer, probe_report, wilson_interval
from igpt_minimal.runfiles import save_figure


def small_model(seed=0):
    torch.manual_seed(seed)
    m = IGPT(IGPTConfig(n_colors=16, n_positions=16, n_embd=32, n_layer=3, n_head=4)).eval()
    with torch.no_grad(): m.head.weight.normal_(std=0.5)
    return m


def blobs(n=300, d=20, k=4, seed=0):
    "Gaussian classes that overlap a little: a probe gets most but not all right."
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(k, d, generator=g) * 0.6
    y = torch.randint(0, k, (n,), generator=g)
    return means[y] + torch.randn(n, d, generator=g), y


def test_no_test_split_and_feature_types():
    "Without a test split the probe scores nothing; features come back float32 on the CPU, whatever the model's dtype."
    x, y = blobs(n=60)
    r = linear_probe(x[:40], y[:40], x[40:], y[40:])
    assert r.test_accuracy is None and r.test_correct is None and 0 < r.val_accuracy <= 1
    m, toks = small_model().to(torch.bfloat16), torch.randint(0, 16, (5, 16))
    feats = [extract_features(m, toks, 2), *extract_features(m, toks, [0, 3]).values()]
    assert all(f.shape == (5, 32) and f.dtype == torch.float32 and f.device.type == 'cpu' for f in feats)


def test_lambda_is_chosen_on_validation_not_test():
    "Swapping in a different test split changes no choice: only the test score."
    x, y = blobs(n=500)
    a = linear_probe(x[:200], y[:200], x[200:300], y[200:300], x[300:400], y[300:400])
    b = linear_probe(x[:200], y[:200], x[200:300], y[200:300], x[400:], y[400:])
    assert a.l2 == b.l2 and a.val_accuracy == b.val_accuracy and a.val_loss_by_l2 == b.val_loss_by_l2


@pytest.mark.parametrize('bad, msg', [
    (lambda x, y: linear_probe(x, y[:-1], x, y), 'rows but train_y has'),
    (lambda x, y: linear_probe(x, torch.full_like(y, 3), x, y), 'a single class (3)'),
    (lambda x, y: linear_probe(torch.where(x > 2, float('nan'), x), y, x, y), 'contains NaN or inf'),
    (lambda x, y: linear_probe(x, y, x[:, :5], y), 'features but val_x has 5'),
    (lambda x, y: linear_probe(x, y, x, y, x[:, :5], y), 'features but test_x has 5'),
    (lambda x, y: linear_probe(x, y, x, y, l2s=[]), 'l2s is empty'),
    (lambda x, y: extract_features(small_model(), torch.zeros(2, 16, dtype=torch.long), 4), 'out of range: this model has layers 0..3'),
])
def test_bad_input(bad, msg):
    x, y = blobs(n=40)
    with pytest.raises(ValueError, match=None) as e: bad(x, y)
    assert msg in str(e.value)


def test_which_norm_cannot_change_a_probe():
    """Features through norm_f or through block 3's own input norm (the paper's literal n^2): the RMSNorms differ only
    in a per-channel gain, so the standardised features agree up to each channel's sign and a probe predicts the same."""
    m, g = small_model(), torch.Generator().manual_seed(1)
    with torch.no_grad():
        for norm in (m.norm_f, m.blocks[2].norm1): norm.weight.copy_(torch.randn(32, generator=g))   # signs differ
    x, y = torch.randint(0, 16, (150, 16), generator=g), torch.arange(150) % 3
    with torch.no_grad(): lit = m.blocks[2].norm1(m(x, return_hidden=True)[1][2]).mean(1)
    ours = extract_features(m, x, 2)
    z = lambda a: (a - a.mean(0)) / a.std(0)
    sign = torch.sign(m.norm_f.weight * m.blocks[2].norm1.weight).detach()
    assert (sign < 0).any() and torch.allclose(z(ours) * sign, z(lit), atol=1e-3)
    a, b = (linear_probe(f[:100], y[:100], f[100:], y[100:], f[100:], y[100:], l2s=(1.0,), max_iter=500) for f in (ours, lit))
    assert abs(a.val_loss - b.val_loss) < 1e-3 and (a.test_correct != b.test_correct).sum() <= 1   # L-BFGS round-off


def test_probe_layers_and_plot(tmp_path):
    m = small_model()
    x, y = torch.randint(0, 16, (90, 16)), torch.arange(90) % 3
    pr = probe_layers(m, x[:40], y[:40], x[40:60], y[40:60], x[60:], y[60:], layers=[0, 3])
    assert sorted(pr) == [0, 3] and all(0 <= r.test_accuracy <= 1 and r.test_correct.shape == (30,) for r in pr.values())
    pix = linear_probe(x[:40].float(), y[:40], x[40:60].float(), y[40:60], x[60:].float(), y[60:])
    rep = probe_report(pr, pix)
    best = select_layer(pr)
    assert rep['probe_layer'] == best and rep['probe_test_accuracy'] == pr[best].test_accuracy and rep['n_test'] == 30
    assert rep['probe_val_accuracy'] == max(r.val_accuracy for r in pr.values())
    assert rep['probe_test_ci95'] == list(wilson_interval(int(pr[best].test_correct.sum()), 30))
    lo, hi = rep['probe_minus_pixel_ci95']
    assert lo <= rep['probe_minus_pixel'] <= hi
    save_figure(plot_probe_layers(pr, pix), tmp_path / 'p.png')
    assert (tmp_path / 'p.png').read_bytes()[:4] == b'\x89PNG'


def test_finetune_copies_and_learns():
    m = small_model()
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (64,), generator=g)
    x = torch.where(y[:, None].bool(), torch.randint(8, 16, (64, 16), generator=g), torch.randint(0, 8, (64, 16), generator=g))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    for w in (1.0, 0.0):
        r = finetune(m, x[:40], y[:40], x[40:52], y[40:52], x[52:], y[52:], steps=30, eval_every=10, gen_weight=w, lr=3e-3, batch_size=16)
        assert r.test_accuracy > 0.9 and r.val_accuracy == max(a for _, a in r.val_history), (w, r)
        assert r.classifier.bias is None and r.classifier.weight.shape == (2, 32)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())   # the caller's model is untouched
    with pytest.raises(ValueError) as e: finetune(m, x, y[:5], x, y, steps=1)
    assert 'train_x has 64 rows but train_y has 5 labels' in str(e.value)
    with pytest.raises(ValueError) as e: finetune(m, x, y, x, y, gen_weight=-1)
    assert 'gen_weight must be >= 0' in str(e.value)


def test_finetune_augment_hook_and_schedule():
    "`augment` is called on every training batch; validation is scored every `eval_every` steps; no test split, no score."
    m, calls = small_model(), []
    def flip_rows(x):
        calls.append(x.shape)
        return x.view(len(x), 4, 4).flip(2).reshape(len(x), 16)
    x, y = torch.randint(0, 16, (60, 16), generator=torch.Generator().manual_seed(0)), torch.arange(60) % 2
    r = finetune(m, x[:40], y[:40], x[40:], y[40:], steps=6, eval_every=2, batch_size=16, augment=flip_rows)
    assert calls == [(16, 16)] * 6 and [s for s, _ in r.val_history] == [2, 4, 6]
    assert r.test_accuracy is None and r.test_correct is None


def test_finetune_checks_every_training_token_first():
    "Checked once on the CPU before training, not only in the batches drawn (on a GPU the model reads no ids back)."
    m, g = small_model(), torch.Generator().manual_seed(1)
    x, y = torch.randint(0, 16, (10, 16), generator=g), torch.arange(10) % 2
    x[9, 3] = 20                                   # row 9 is never drawn in one step of one image with seed 0
    with pytest.raises(ValueError, match=r'token ids must lie in \[0, 16\)'):
        finetune(m, x, y, x[:4], y[:4], steps=1, batch_size=1, eval_every=1)
