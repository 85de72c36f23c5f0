"""Edge cases and bad input for igpt_minimal.data, the CIFAR-10 loader and Fashion-MNIST's real files. The lesson's
behaviours (raster order, area averaging against block means, the digits split, augmentation against F.pad) are tested
in nbs/01_data.ipynb."""
import re, numpy as np, pytest, torch
from pathlib import Path
from igpt_minimal.data import raster, unraster, reduce_context, split_train_val, augment_tokens
from igpt_minimal.fashion_mnist import FASHION_MNIST_DIRS
from igpt_minimal.cifar10 import make_fake_cifar10, download_cifar10


def test_raster_edge_cases():
    assert raster(np.zeros((2, 4, 4), np.int64)).shape == (2, 16)                 # numpy input
    with pytest.raises(ValueError, match=r'\(N, H, W\)'): raster(torch.zeros(4, 4))
    with pytest.raises(ValueError, match='check h and w'): unraster(torch.zeros(5, 64), 8, 7)


def test_reduce_context_edge_cases():
    x = torch.randint(0, 256, (3, 8, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    same = reduce_context(x, 8)
    assert torch.equal(same, x) and same.data_ptr() != x.data_ptr()              # same size: a copy
    assert torch.equal(reduce_context(x.numpy(), 4, chunk=2), reduce_context(x, 4))   # numpy, chunked
    grey = torch.full((2, 6, 6, 1), 7, dtype=torch.uint8)
    assert torch.equal(reduce_context(grey, 3), torch.full((2, 3, 3, 1), 7, dtype=torch.uint8))
    with pytest.raises(ValueError, match='only shrinks'): reduce_context(x, 16)
    with pytest.raises(TypeError, match='must be uint8'): reduce_context(x.float(), 4)


def test_split_train_val_bad_input():
    y = torch.arange(20) % 4
    with pytest.raises(ValueError, match='strictly between 0 and 1'): split_train_val(y, val_frac=1)
    with pytest.raises(ValueError, match='1-D integer tensor'): split_train_val(y.float())


def test_augment_tokens_edge_cases():
    x = torch.randint(0, 512, (8, 36), generator=torch.Generator().manual_seed(0))
    gen = lambda: torch.Generator().manual_seed(5)
    assert torch.equal(augment_tokens(x, 6, 2, generator=gen()), augment_tokens(x, 6, 2, generator=gen()))
    assert augment_tokens(x.int(), 6, 1).dtype == torch.int32
    with pytest.raises(ValueError, match=re.escape('expected sequences of shape (B, 25)')): augment_tokens(x, 5)
    with pytest.raises(ValueError, match='pad must be in 0..5'): augment_tokens(x, 6, pad=6)
    with pytest.raises(ValueError, match="'reflect' or 'replicate'"): augment_tokens(x, 6, mode='zeros')


@pytest.fixture
def archive(tmp_path):
    return make_fake_cifar10(tmp_path, n_train=25, n_test=10, seed=0)


# appendix A5 tests reading, bad archives, unsafe pickles and a failed download; here: a download that succeeds
def test_download(archive, tmp_path):
    got = download_cifar10(tmp_path / 'dl' / 'x.tar.gz', url=archive.as_uri())   # file:// exercises the same path
    assert got.read_bytes() == archive.read_bytes()


FASHION = any((Path(d) / "train-images-idx3-ubyte.gz").exists() for d in FASHION_MNIST_DIRS)


@pytest.mark.skipif(not FASHION, reason="Fashion-MNIST is not installed here: apt-get install "
                                        "dataset-fashion-mnist (Debian) to run this test")
def test_fashion_mnist_real_files():
    from igpt_minimal.data import split_train_val
    from igpt_minimal.fashion_mnist import load_fashion_mnist
    x, y = load_fashion_mnist()
    xt, yt = load_fashion_mnist(train=False)
    assert x.shape == (60000, 28, 28, 1) and xt.shape == (10000, 28, 28, 1) and x.dtype == torch.uint8
    assert y.bincount().tolist() == [6000] * 10 and yt.bincount().tolist() == [1000] * 10
    tr, va = split_train_val(y)
    assert len(va) == 6000 and y[va].bincount().tolist() == [600] * 10 and len(tr) == 54000


def test_sweeps_never_read_the_test_split(monkeypatch, tmp_path):
    "prepare_data(test=False), which the sweeps in bench/ use, neither reads nor returns the test split."
    import igpt_minimal.train as T
    real = T.load_images
    def train_only(data, train, *a, **k):
        assert train, "the test split was read"
        return real(data, train, *a, **k)
    monkeypatch.setattr(T, 'load_images', train_only)
    d = T.prepare_data(T.get_preset('tiny'), test=False)
    assert 'tokens_test' not in d and 'labels_test' not in d
    assert len(T.split_args(d)) == 4                      # train and validation only
    with pytest.raises(AssertionError, match='test split was read'): T.prepare_data(T.get_preset('tiny'))
    with pytest.raises(ValueError, match='out_dir=None'): T.prepare_data(T.get_preset('tiny'), tmp_path, test=False)
    for script in ('digits_recipe_sweep.py', 'fashion_budget_sweep.py'):
        assert 'test=False' in (Path(__file__).parents[1] / 'bench' / script).read_text(), script
