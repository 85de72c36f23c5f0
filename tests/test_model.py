"""Bad input for igpt_minimal.model and igpt_minimal.sample: each mistake fails with a message that says what to do.
The lessons' behaviours (norm, MLP and attention against naive versions, causality, the initial loss, the KV cache
against one full pass, cached against uncached sampling) are tested in nbs/02_model.ipynb and nbs/05_sample.ipynb;
the sampling CLI's bad arguments in tests/test_integrity.py."""
import re
import pytest, torch
from igpt_minimal.model import IGPT, IGPTConfig, igpt_config
from igpt_minimal.sample import generate, complete_images


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return IGPT(IGPTConfig(n_colors=16, n_positions=64, n_embd=32, n_layer=1, n_head=4)).eval()


ids = torch.zeros(2, 8, dtype=torch.long)
palette = torch.linspace(-1, 1, 16)[:, None]
images = torch.zeros(2, 8, 8, 1, dtype=torch.uint8)

BAD = [  # (what, call(model), exception, message fragment)
    ('ids not a tensor', lambda m: m([[1, 2]]), TypeError, 'expected a torch tensor'),
    ('float ids', lambda m: m(torch.rand(2, 64)), TypeError, 'expected integer token ids'),
    ('bool ids', lambda m: m(ids.bool()), TypeError, 'expected integer token ids'),
    ('1-D ids', lambda m: m(ids[0]), ValueError, 'shape (batch, seq_len)'),
    ('too long', lambda m: m(torch.randint(0, 16, (2, 65))), ValueError, 'exceeds n_positions=64'),
    ('id too large', lambda m: m(torch.full((2, 8), 17)), ValueError, 'token ids must lie in [0, 16)'),
    ('negative id', lambda m: m(torch.full((2, 8), -1)), ValueError, 'token ids must lie in [0, 16)'),
    ('SOS id', lambda m: m(torch.full((2, 8), 16)), ValueError, 'start-of-sequence token'),
    ('mask with causal=True', lambda m: m(ids, mask=ids.bool()), ValueError, 'pass causal=False'),
    ('float mask', lambda m: m(ids, causal=False, mask=ids.float()), ValueError, 'mask must be a bool tensor'),
    ('mask of another shape', lambda m: m(ids, causal=False, mask=ids[:, :4].bool()), ValueError,
     'mask must be a bool tensor shaped like x (2, 8)'),
    ('unknown preset', lambda m: igpt_config('igpt_q'), ValueError, "unknown model preset 'igpt_q'"),
    ('heads do not divide width', lambda m: IGPTConfig(n_embd=100, n_head=8), ValueError, 'divisible by n_head'),
    ('zero layers', lambda m: IGPTConfig(n_layer=0), ValueError, 'n_layer must be a positive integer'),
    ('positions not a square', lambda m: IGPTConfig(n_positions=99).side, ValueError, 'not a square'),
    ('KV cache full', lambda m: m.decode(ids[:1, :5], m.new_cache(1, max_len=4)), ValueError, 'KV cache is full'),
    ('generate past n_positions', lambda m: generate(m, ids, 57), ValueError, "exceeds the model's 64 positions"),
    ('float prefix', lambda m: generate(m, ids.float(), 5), ValueError, 'prefix must be integer token ids'),
    ('negative n_new', lambda m: generate(m, ids, -1), ValueError, 'n_new must be >= 0'),
    ('keep_rows > H', lambda m: complete_images(m, images, palette, keep_rows=9), ValueError,
     'keep_rows must be in [0, 8]'),
    ('images of another size', lambda m: complete_images(m, images[:, :4, :4], palette), ValueError,
     'reduce_context them first'),
]


@pytest.mark.parametrize('what,call,exc,msg', BAD, ids=[b[0] for b in BAD])
def test_bad_input(model, what, call, exc, msg):
    with pytest.raises(exc, match=re.escape(msg)): call(model)


def test_limits_accepted(model):
    "The edges of each check pass: n_positions tokens, ids 0 and n_colors - 1, a prefix that fills the model."
    assert model(torch.randint(0, 16, (2, 64))).shape == (2, 64, 16)
    assert model(torch.tensor([[0, 15]])).shape == (1, 2, 16)
    assert generate(model, ids, 56, top_k=1).shape == (2, 64)
    assert generate(model, torch.zeros(2, 64, dtype=torch.long), 0).shape == (2, 64)
