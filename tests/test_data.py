"Tests of the installed igpt_minimal.data (the notebook nbs/01_data.ipynb holds the bulk of the tests)."
import pickle, tarfile, numpy as np, pytest, torch
from pathlib import Path
from igpt_minimal.data import raster, unraster, reduce_context, load_digits
from igpt_minimal.fashion_mnist import FASHION_MNIST_DIRS
from igpt_minimal.cifar10 import load_cifar10, make_fake_cifar10, download_cifar10, CIFAR10_CLASSES


def test_raster_unraster_inverse():
    grid = torch.randint(0, 512, (3, 4, 5))
    seqs = raster(grid)
    assert seqs.shape == (3, 20) and seqs[1, 2 * 5 + 3] == grid[1, 2, 3]
    assert torch.equal(unraster(seqs, 4, 5), grid)
    with pytest.raises(ValueError, match='check h and w'): unraster(seqs, 5, 5)


def test_reduce_context():
    x = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
    y = reduce_context(x, 8)
    assert y.shape == (2, 8, 8, 3) and y.dtype == torch.uint8
    assert torch.equal(y, x.float().reshape(2, 8, 4, 8, 4, 3).mean((2, 4)).round().to(torch.uint8))
    with pytest.raises(ValueError, match='only shrinks'): reduce_context(x, 33)


def test_load_digits_split():
    (xtr, ytr), (xte, yte) = load_digits(), load_digits(train=False)
    assert xtr.shape == (1437, 8, 8, 1) and xte.shape == (360, 8, 8, 1)
    assert xtr.dtype == torch.uint8 and ytr.dtype == torch.int64
    assert len(torch.cat([xtr, xte]).unique()) <= 17 and int(xtr.max()) == 255


@pytest.fixture
def archive(tmp_path):
    return make_fake_cifar10(tmp_path, n_train=25, n_test=10, seed=0)


def test_fake_cifar10_archive_and_folder(archive, tmp_path):
    x, y = load_cifar10(archive, check_md5=False)
    assert x.shape == (25, 32, 32, 3) and x.dtype == torch.uint8 and y.dtype == torch.int64
    xt, yt = load_cifar10(tmp_path, train=False, check_md5=False)
    assert xt.shape == (10, 32, 32, 3) and int(yt.max()) < len(CIFAR10_CLASSES)
    with tarfile.open(archive) as tf: tf.extractall(tmp_path / 'out', filter='data')
    assert torch.equal(load_cifar10(tmp_path / 'out')[0], x)
    assert torch.equal(load_cifar10(tmp_path / 'out' / 'cifar-10-batches-py', train=False)[1], yt)


def test_bad_archives(archive, tmp_path):
    with pytest.raises(ValueError, match='check_md5=False'): load_cifar10(archive)
    cut = tmp_path / 'cut.tar.gz'
    cut.write_bytes(archive.read_bytes()[:5000])
    with pytest.raises(ValueError, match='truncated'): load_cifar10(cut, check_md5=False)
    with pytest.raises(FileNotFoundError, match='download=True'): load_cifar10(tmp_path / 'nothing')


class _Evil:
    def __reduce__(self): return (exec, ("raise SystemExit('unpickled!')",))


def test_malicious_pickle_refused(tmp_path):
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    (folder / 'test_batch').write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ValueError, match='refusing to load the pickle global builtins.exec'):
        load_cifar10(tmp_path, train=False)


def test_download(archive, tmp_path):
    with pytest.raises(ConnectionError, match='put it at'):
        download_cifar10(tmp_path / 'dl' / 'x.tar.gz', url='http://127.0.0.1:9/x.tar.gz', timeout=2)
    assert list((tmp_path / 'dl').iterdir()) == []
    got = download_cifar10(tmp_path / 'dl' / 'x.tar.gz', url=archive.as_uri())   # file:// exercises the same path
    assert got.read_bytes() == archive.read_bytes()


FASHION = any((Path(d) / "train-images-idx3-ubyte.gz").exists() for d in FASHION_MNIST_DIRS)


@pytest.mark.skipif(not FASHION, reason="Fashion-MNIST is not installed here: apt-get install dataset-fashion-mnist (Debian) to run this test")
def test_fashion_mnist_real_files():
    from igpt_minimal.data import split_train_val
    from igpt_minimal.fashion_mnist import load_fashion_mnist
    x, y = load_fashion_mnist(); xt, yt = load_fashion_mnist(train=False)
    assert x.shape == (60000, 28, 28, 1) and xt.shape == (10000, 28, 28, 1) and x.dtype == torch.uint8
    assert y.bincount().tolist() == [6000] * 10 and yt.bincount().tolist() == [1000] * 10
    tr, va = split_train_val(y)
    assert len(va) == 6000 and y[va].bincount().tolist() == [600] * 10 and len(tr) == 54000
