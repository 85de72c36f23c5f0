"""Edge cases, bad input and file round trips for igpt_minimal.quantize. The lesson's behaviours (nearest centre,
k-means++, Lloyd's step, quantize/dequantize) are tested in nbs/00_quantize.ipynb; fit_palette's agreement with
scikit-learn and its determinism in nbs/A7_kmeans.ipynb."""
import re
import numpy as np, pytest, torch
from igpt_minimal.quantize import (quantize, dequantize, to_unit, from_unit, check_images,
                                   flat_pixels)
from igpt_minimal.kmeans import fit_palette, save_palette, load_palette


def _painted(n_colours=20, n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    colours = torch.randint(0, 256, (n_colours, 3), dtype=torch.uint8, generator=g)
    return colours[torch.randint(0, n_colours, (n, 8, 8), generator=g)]


def test_lossless_round_trip():
    "A palette with as many colours as the images hold reproduces them bit for bit, also images using fewer."
    g = torch.Generator().manual_seed(0)
    colours = torch.randint(0, 256, (20, 3), dtype=torch.uint8, generator=g)
    painted = colours[torch.randint(0, 20, (10, 8, 8), generator=g)]          # (10, 8, 8, 3), 20 colours
    pal20 = fit_palette(painted, n_colors=20)
    assert torch.equal(dequantize(quantize(painted, pal20), pal20), painted)
    fewer = colours[torch.randint(0, 5, (3, 8, 8), generator=g)]              # only 5 of the 20 colours, as numpy
    assert torch.equal(dequantize(quantize(fewer.numpy(), pal20), pal20), fewer)


def test_grayscale_and_float_pixels():
    grey = (torch.arange(64).reshape(1, 8, 8, 1) * 4).to(torch.uint8)
    palette = fit_palette(grey, n_colors=8)
    assert palette.shape == (8, 1)
    assert quantize(grey, palette).unique().tolist() == list(range(8))
    assert fit_palette(to_unit(grey.reshape(-1, 1)), n_colors=8).shape == (8, 1)   # float pixels in [-1, 1]


def test_save_load(tmp_path):
    palette = fit_palette(_painted(), n_colors=12)
    path = save_palette(palette, tmp_path / 'p')
    assert path.name == 'p.npy'                                    # the suffix np.save would add
    assert torch.equal(load_palette(path), palette)
    bad = {'wide.npy': np.zeros((4, 2), np.float32), 'flat.npy': np.zeros(6, np.float32),
           'bytes.npy': from_unit(palette).numpy().astype(np.float32)}
    for name, a in bad.items(): np.save(tmp_path / name, a)
    (tmp_path / 'junk.npy').write_bytes(b'not an array')
    with pytest.raises(ValueError, match=r'shape \(K, C\)'): load_palette(tmp_path / 'wide.npy')
    with pytest.raises(ValueError, match=r'shape \(K, C\)'): load_palette(tmp_path / 'flat.npy')
    with pytest.raises(ValueError, match=re.escape('p/127.5 - 1')): load_palette(tmp_path / 'bytes.npy')
    with pytest.raises(ValueError, match='not a readable .npy'): load_palette(tmp_path / 'junk.npy')
    with pytest.raises(FileNotFoundError, match='no palette file'): load_palette(tmp_path / 'missing.npy')


@pytest.fixture(scope='module')
def fitted():
    images = _painted()
    return images, fit_palette(images, n_colors=8)


BAD = [  # (what, call(images, palette), exception, message fragment)
    ('float to_unit', lambda x, p: to_unit(np.zeros(3)), TypeError, 'expects uint8'),
    ('float images', lambda x, p: check_images(x.float()), TypeError, 'must be uint8'),
    ('float images, fit', lambda x, p: fit_palette(x.float() / 255), TypeError, 'must be uint8'),
    ('float images, quantize', lambda x, p: quantize(x.float() / 255, p), TypeError, 'must be uint8'),
    ('no batch axis', lambda x, p: quantize(x[0], p), ValueError, '(N, H, W, C)'),
    ('channels first', lambda x, p: check_images(x.permute(0, 3, 1, 2)), ValueError, 'permute'),
    ('4 channels', lambda x, p: fit_palette(torch.zeros(2, 4, 4, 4, dtype=torch.uint8)), ValueError, '1 or 3 channels'),
    ('2 channels', lambda x, p: fit_palette(x[..., :2]), ValueError, '1 or 3 channels'),
    ('float pixels off scale', lambda x, p: flat_pixels(torch.rand(10, 3) * 255), ValueError, '[-1, 1]'),
    ('pixels (P, 4)', lambda x, p: flat_pixels(torch.zeros(10, 4)), ValueError, '(P, C)'),
    ('too many colours', lambda x, p: fit_palette(x, n_colors=21), ValueError, 'only 20 distinct colours'),
    ('grey palette, RGB images', lambda x, p: quantize(x, p[:, :1]), ValueError, '3 channel(s) but the palette has 1'),
    ('uint8 palette', lambda x, p: quantize(x, from_unit(p)), TypeError, 'to_unit'),
    ('0..255 palette', lambda x, p: quantize(x, (p + 1) * 127.5), ValueError, '[-1, 1]'),
    ('palette (C, K)', lambda x, p: quantize(x, p.T), ValueError, 'shape (K, C)'),
    ('NaN palette', lambda x, p: quantize(x, torch.full((4, 3), float('nan'))), ValueError, 'NaN'),
    ('token too large', lambda x, p: dequantize(torch.tensor([[8]]), p), ValueError, '[0, 8)'),
    ('negative token', lambda x, p: dequantize(torch.tensor([[-1]]), p), ValueError, 'another palette'),
    ('float tokens', lambda x, p: dequantize(torch.tensor([[1.]]), p), TypeError, 'integer palette indices'),
]


@pytest.mark.parametrize('what,call,exc,msg', BAD, ids=[b[0] for b in BAD])
def test_bad_input(fitted, what, call, exc, msg):
    with pytest.raises(exc, match=re.escape(msg)): call(*fitted)
