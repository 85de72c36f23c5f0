"Tests of the installed igpt_minimal.model and .losses (the notebooks hold the detailed ones)."
import math
import pytest
import torch
from igpt_minimal.model import IGPT, IGPTConfig, igpt_config, count_params
from igpt_minimal.losses import ar_loss, bert_loss


def small(**kw):
    torch.manual_seed(0)
    return IGPT(IGPTConfig(**{**dict(n_colors=16, n_positions=36, n_embd=32, n_layer=2, n_head=4), **kw}))


def test_initial_loss_is_log_vocab():
    m = small()
    x = torch.randint(0, 16, (5, 36))
    assert abs(ar_loss(m, x).item() - math.log(16)) < 1e-6
    assert abs(bert_loss(m, x, generator=torch.Generator().manual_seed(0)).item() - math.log(16)) < 1e-6


def test_causal_mask_and_cache():
    m = small().eval()
    with torch.no_grad(): m.head.weight.normal_()
    x = torch.randint(0, 16, (2, 36))
    y = x.clone(); y[:, 17] = (y[:, 17] + 5) % 16
    with torch.no_grad():
        assert torch.allclose(m(x)[:, :18], m(y)[:, :18], atol=1e-6)
        assert not torch.allclose(m(x)[:, 18:], m(y)[:, 18:], atol=1e-4)
        cache = m.new_cache(2)
        inp = torch.cat([torch.full((2, 1), m.sos_id), x[:, :-1]], 1)
        stepwise = torch.cat([m.decode(inp[:, i:i + 1], cache) for i in range(36)], 1)
        assert torch.allclose(stepwise, m(x), atol=1e-5)


def test_paper_parameter_counts():
    for name, n in [('igpt_s', 76e6), ('igpt_m', 455e6), ('igpt_l', 1362e6)]:
        with torch.device('meta'): m = IGPT(igpt_config(name))
        assert abs(count_params(m) / n - 1) < 0.01, name


def test_from_hf_matches_logits():
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(1)
    hf = transformers.ImageGPTForCausalImageModeling(transformers.ImageGPTConfig(vocab_size=33, n_positions=20, n_embd=48, n_layer=2, n_head=6)).eval()
    with torch.no_grad():
        for p in hf.parameters(): p.normal_(std=0.2)
    ours = IGPT.from_hf(hf)
    x = torch.randint(0, 32, (3, 20))
    with torch.no_grad():
        ref = hf(input_ids=torch.cat([torch.full((3, 1), 32), x[:, :-1]], 1)).logits
        assert (ours(x) - ref).abs().max().item() < 1e-5


@pytest.mark.parametrize('bad,msg', [(torch.rand(2, 8), 'integer token ids'), (torch.full((2, 8), 99), 'must lie in [0, 16)'),
                                     (torch.zeros(2, 40, dtype=torch.long), 'exceeds n_positions')])
def test_bad_tokens(bad, msg):
    with pytest.raises((ValueError, TypeError), match=msg.replace('[', r'\[').replace(')', r'\)')):
        small()(bad)
