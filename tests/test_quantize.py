"Tests of the installed igpt_minimal.quantize (the notebook nbs/00_quantize.ipynb holds the bulk of the tests)."
import numpy as np, pytest, torch
from igpt_minimal.quantize import quantize, dequantize, save_palette, load_palette, inertia, to_unit, from_unit
from igpt_minimal.kmeans import fit_palette


def _painted(n_colours=20, n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    colours = torch.randint(0, 256, (n_colours, 3), dtype=torch.uint8, generator=g)
    return colours[torch.randint(0, n_colours, (n, 8, 8), generator=g)]


def test_round_trip_exact_with_enough_colours():
    images = _painted()
    palette = fit_palette(images.numpy(), n_colors=20)
    assert palette.shape == (20, 3) and palette.dtype == torch.float32
    tokens = quantize(images, palette)
    assert tokens.shape == (10, 8, 8) and tokens.dtype == torch.int64
    assert torch.equal(dequantize(tokens, palette), images)


def test_same_seed_same_palette_and_close_to_sklearn():
    from sklearn.cluster import KMeans
    g = torch.Generator().manual_seed(0)
    pixels = (torch.rand(5000, 3, generator=g) ** 2 * 255).round().to(torch.uint8)
    p0, p1 = fit_palette(pixels, 16, seed=0), fit_palette(pixels, 16, seed=0)
    assert torch.equal(p0, p1)
    km = KMeans(16, n_init=1, random_state=0).fit(to_unit(pixels).numpy())
    assert inertia(pixels, p0) <= 1.02 * km.inertia_


def test_grayscale_and_float_pixels():
    grey = (torch.arange(64).reshape(1, 8, 8, 1) * 4).to(torch.uint8)
    palette = fit_palette(grey, n_colors=8)
    assert palette.shape == (8, 1)
    assert quantize(grey, palette).unique().tolist() == list(range(8))
    assert fit_palette(to_unit(grey.reshape(-1, 1)), n_colors=8).shape == (8, 1)   # float pixels in [-1, 1]


def test_save_load(tmp_path):
    palette = fit_palette(_painted(), n_colors=12)
    path = save_palette(palette, tmp_path / 'p.npy')
    assert torch.equal(load_palette(path), palette)
    np.save(tmp_path / 'wide.npy', np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r'shape \(K, C\)'): load_palette(tmp_path / 'wide.npy')
    with pytest.raises(FileNotFoundError): load_palette(tmp_path / 'missing.npy')


def test_bad_input():
    images = _painted()
    palette = fit_palette(images, n_colors=8)
    with pytest.raises(ValueError, match='only 20 distinct colours'): fit_palette(images, n_colors=21)
    with pytest.raises(TypeError, match='must be uint8'): quantize(images.float() / 255, palette)
    with pytest.raises(ValueError, match=r'\(N, H, W, C\)'): quantize(images[0], palette)
    with pytest.raises(ValueError, match='1 or 3 channels'): fit_palette(torch.zeros(2, 4, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r'\[-1, 1\]'): quantize(images, (palette + 1) * 127.5)
    with pytest.raises(ValueError, match=r'\[0, 8\)'): dequantize(torch.tensor([[8]]), palette)
    assert torch.equal(from_unit(to_unit(torch.arange(256).to(torch.uint8))), torch.arange(256).to(torch.uint8))
