"CIFAR-10 dress rehearsal through the installed `igpt` command: archive -> palette -> tokens -> train -> resume -> sample -> probe."
import json, subprocess
import numpy as np
import torch
from igpt_minimal.cifar10 import make_fake_cifar10, load_cifar10
from igpt_minimal.train import load_model


def igpt(*args):
    return subprocess.run(['igpt', *map(str, args)], capture_output=True, text=True, timeout=600)


def test_dress_rehearsal(tmp_path):
    archive = make_fake_cifar10(tmp_path / 'cifar-10-python.tar.gz', n_train=500, n_test=100, seed=1)
    imgs, labels = load_cifar10(archive, train=True, check_md5=False)
    assert imgs.shape == (500, 32, 32, 3) and imgs.dtype == torch.uint8 and labels.dtype == torch.int64
    run = tmp_path / 'run'
    common = ['--preset', 'cifar10-tiny', '--data', 'cifar10', '--data-path', archive, '--out', run, '--no-check-md5', '--quiet']
    r = igpt('train', *common, '--max-steps', 6); assert r.returncode == 0, r.stderr
    assert load_model(run)[2]['step'] == 6
    r = igpt('train', *common, '--max-steps', 12, '--resume'); assert r.returncode == 0, r.stderr
    model, cfg, state = load_model(run)
    assert state['step'] == 12 and cfg.image_size == 8 and state['palette'].shape == (16, 3)
    n_tr, n_va = (np.load(run / f'tokens_{s}.npy').shape for s in ('train', 'val'))
    assert n_tr[1] == n_va[1] == 64 and n_tr[0] + n_va[0] == 500 and 45 <= n_va[0] <= 55   # 10% of each class held out
    steps = [json.loads(l)['step'] for l in (run / 'metrics.jsonl').read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 12
    r = igpt('sample', '--ckpt', run, '--out', run / 'c.png', '--n', 3, '--complete'); assert r.returncode == 0, r.stderr
    assert (run / 'c.png').read_bytes()[:4] == b'\x89PNG'
    r = igpt('probe', '--ckpt', run); assert r.returncode == 0, r.stderr
    probe = json.loads((run / 'probe.json').read_text())
    assert set(probe['probe_val_accuracy_by_layer']) == {'0', '1', '2'} and 0 <= probe['pixel_test_accuracy'] <= 1
    # the published-checksum check refuses a home-made archive, in one line
    r = igpt('train', '--preset', 'cifar10-tiny', '--data', 'cifar10', '--data-path', archive, '--out', tmp_path / 'r2', '--quiet')
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr
