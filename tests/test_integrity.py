"""Issue 14's defects, one test each: run-directory integrity, one-line errors, validation gaps, device-correct code.
Each test failed before its fix. Tests marked with DEVICES run on the CPU and, when present, on CUDA."""
import contextlib, errno, io, json, os, pickle, re, signal, subprocess, sys, tarfile, time
from dataclasses import replace
from pathlib import Path
import numpy as np, pytest, torch
from igpt_minimal.cli import main
from igpt_minimal.train import get_preset, train, load_model, read_metrics
from igpt_minimal.runfiles import (load_checkpoint, save_checkpoint, CKPT_NAME, PREV_NAME, all_finite,
                                   latest_checkpoint)
from igpt_minimal.model import IGPT, IGPTConfig
from igpt_minimal.sample import generate, complete_images
from igpt_minimal.probe import extract_features, linear_probe, finetune, probe_layers
from igpt_minimal.kmeans import fit_palette
from igpt_minimal.cifar10 import load_cifar10

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def igpt(*args):
    "Run `igpt args...` in this process: (exit code, stdout, stderr)."
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        try: code = main([str(x) for x in args])
        except SystemExit as ex: code = ex.code
    return code, o.getvalue(), e.getvalue()


def one_line_error(code, err, *needles):
    assert code == 2, err
    assert err.count('\n') == 1 and 'Traceback' not in err, err
    for n in needles: assert n in err, (n, err)


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    "A finished 20-step tiny run."
    d = tmp_path_factory.mktemp('run')
    assert igpt('train', '--preset', 'tiny', '--out', d, '--quiet')[0] == 0
    return d


# 1. the NaN guard: a diverged run saves nothing over the last good state; the previous checkpoint is kept
def test_previous_checkpoint_kept(run_dir):
    assert load_checkpoint(run_dir / CKPT_NAME)['step'] == 20 and load_checkpoint(run_dir / PREV_NAME)['step'] == 10


def test_divergence_keeps_the_last_finite_state(tmp_path, tokens):
    cfg = get_preset('tiny', max_steps=12, ckpt_every=3)
    d = tmp_path / 'a'
    train(cfg, tokens, out_dir=d, until=3, progress=False)
    before = (d / CKPT_NAME).read_bytes()
    # an infinite learning rate ruins the weights at the first update; every step is checkpointed
    blowup = replace(cfg, lr=float('inf'), grad_clip=0.0, ckpt_every=1, log_every=1)
    with pytest.raises(FloatingPointError, match=f"{re.escape(str(d / CKPT_NAME))} still holds step 3"):
        train(blowup, tokens, out_dir=d, resume=True, progress=False)
    assert (d / CKPT_NAME).read_bytes() == before and all_finite(load_model(d)[0])
    e = tmp_path / 'b'                 # no good state yet: nothing is written, and the message says so
    with pytest.raises(FloatingPointError, match='no checkpoint was written'):
        train(replace(blowup, max_steps=1), tokens, out_dir=e, progress=False)
    assert latest_checkpoint(e) is None


# 3. two runs in one directory
def test_second_writer_refused(tmp_path):
    first = subprocess.Popen([sys.executable, '-m', 'igpt_minimal.cli', 'train', '--preset', 'tiny', '--max-steps', '100000',
                              '--out', tmp_path, '--quiet'], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):                          # wait until the first process holds the lock and trains
            if (tmp_path / 'metrics.jsonl').exists() or first.poll() is not None: break
            time.sleep(0.1)
        assert first.poll() is None, first.stderr.read()
        code, _, err = igpt('train', '--preset', 'tiny', '--out', tmp_path, '--quiet', '--resume')
        one_line_error(code, err, f'in use by process {first.pid}', 'choose another --out')
    finally:
        first.send_signal(signal.SIGKILL); first.wait()
    assert igpt('train', '--preset', 'tiny', '--out', tmp_path / 'x', '--quiet')[0] == 0   # killed: no stale lock


# 6. metrics.jsonl: fresh for a new run, trimmed to the checkpoint on resume
def test_metrics_fresh_and_trimmed(tmp_path, tokens):
    cfg = get_preset('tiny', max_steps=12, ckpt_every=4, log_every=2)
    (tmp_path / 'metrics.jsonl').write_text(json.dumps(dict(step=999, loss=9.9)) + '\n')   # a crashed run's leftovers
    with pytest.raises(FileExistsError, match='already holds a run'):       # are a run's files: never written over
        train(cfg, tokens, out_dir=tmp_path, until=8, progress=False)
    (tmp_path / 'metrics.jsonl').unlink()
    train(cfg, tokens, out_dir=tmp_path, until=8, progress=False)
    assert [r['step'] for r in read_metrics(tmp_path)] == [2, 4, 6, 8]
    # kill -9 after step 10 was logged but before its checkpoint: the checkpoint says 8, the log says 10
    with open(tmp_path / 'metrics.jsonl', 'a') as f: f.write(json.dumps(dict(step=10, loss=1.0)) + '\n')
    train(cfg, tokens, out_dir=tmp_path, resume=True, progress=False)
    assert [r['step'] for r in read_metrics(tmp_path)] == [2, 4, 6, 8, 10, 12]


# 7. one-line errors
def test_disk_full_and_read_only(tmp_path, monkeypatch):
    def full(obj, f, *a, **k):
        Path(f).write_bytes(b'partial'); raise OSError(errno.ENOSPC, 'No space left on device', str(f))
    monkeypatch.setattr(torch, 'save', full)
    code, _, err = igpt('train', '--preset', 'tiny', '--out', tmp_path / 'r', '--quiet')
    one_line_error(code, err, 'the disk is full', 'choose another --out')
    assert not list((tmp_path / 'r').glob('*.tmp')) and not list((tmp_path / 'r').glob('.*.tmp'))   # no partial file left
    monkeypatch.undo()
    def read_only(self, *a, **k): raise PermissionError(errno.EACCES, 'Permission denied', str(self))
    monkeypatch.setattr(Path, 'mkdir', read_only)
    one_line_error(*igpt('train', '--preset', 'tiny', '--out', tmp_path / 'ro', '--quiet')[::2], 'permission denied')


@pytest.mark.parametrize('args, needle', [
    (['--top-k', '0'], 'top_k must be >= 1'), (['--samples', '0'], 'n_samples must be >= 1'),
    (['--n', '0'], '--n must be >= 1'), (['--n', '-1'], '--n must be >= 1'), (['--device', 'gpu7'], "unknown device 'gpu7'"),
    (['--out', ''], '--out is empty')])
def test_sample_bad_arguments(run_dir, tmp_path, args, needle):
    extra = [] if '--out' in args else ['--out', tmp_path / 's.png']
    code, _, err = igpt('sample', '--ckpt', run_dir, *extra, *args)
    one_line_error(code, err, needle)


def test_missing_cuda_and_weights_only_resume(tmp_path, run_dir):
    if not torch.cuda.is_available():
        one_line_error(*igpt('probe', '--ckpt', run_dir, '--device', 'cuda')[::2], 'CUDA is not available')
    state = load_checkpoint(run_dir)
    save_checkpoint(tmp_path / CKPT_NAME, **{k: state[k] for k in ('model', 'config', 'step', 'palette')})
    one_line_error(*igpt('train', '--preset', 'tiny', '--out', tmp_path, '--resume', '--quiet')[::2], 'weights only')


# 8. CLI validation gaps
def test_cli_gaps(tmp_path):
    one_line_error(*igpt('demo', '--out', tmp_path / 'd', '--max-steps', '0', '--quiet')[::2], 'max_steps')
    one_line_error(*igpt('train', '--preset', 'tiny', '--out', '', '--quiet')[::2], '--out is empty')
    one_line_error(*igpt('demo', '--out', ' ', '--quiet')[::2], '--out is empty')


# 9. library validation gaps
@pytest.mark.parametrize('device', DEVICES)
def test_library_token_checks(device):
    m = IGPT(IGPTConfig(n_colors=16, n_positions=16, n_embd=16, n_layer=1, n_head=2)).to(device).eval()
    with pytest.raises(ValueError, match=r'lie in \[0, 16\)'): generate(m, torch.full((2, 3), 99), 2)
    with pytest.raises(ValueError, match='start-of-sequence'): generate(m, torch.full((2, 3), 16), 2)
    with pytest.raises(TypeError, match='integer token ids'): extract_features(m, torch.rand(2, 16) * 5, 1)
    with pytest.raises(ValueError, match=r'lie in \[0, 16\)'): extract_features(m, torch.full((2, 16), 99), 1)
    x = torch.randint(0, 16, (2, 16), device=device)
    assert torch.equal(m(x.to(torch.uint8)), m(x))      # the token cache's uint8 ids are accepted


def test_library_input_checks():
    x, y = torch.randn(20, 4), torch.arange(20) % 2
    with pytest.raises(ValueError, match='number the classes 0..K-1'): linear_probe(x, torch.where(y == 1, 10**9, 0), x, y)
    with pytest.raises(ValueError, match='train_x is empty'): linear_probe(x[:0], y[:0], x, y)
    with pytest.raises(ValueError, match='l2s is empty'): linear_probe(x, y, x, y, l2s=())
    with pytest.raises(ValueError, match='n_colors must be >= 1'):
        fit_palette(torch.randint(0, 255, (10, 4, 4, 3), dtype=torch.uint8), n_colors=0)


# 10 and 11. CIFAR-10 archives: a size cap per member, and Python 3's protocol-2 pickles
def _archive(path, members):
    with tarfile.open(path, 'w:gz') as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(f'cifar-10-batches-py/{name}'); info.size = len(data); tf.addfile(info, io.BytesIO(data))
    return path


def _batch(n, protocol):
    rng = np.random.default_rng(0)
    d = {b'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8), b'labels': list(rng.integers(0, 10, n).tolist())}
    return pickle.dumps(d, protocol=protocol)


def test_archive_member_size_cap(tmp_path):
    big = _archive(tmp_path / 'big.tar.gz', {'test_batch': bytes(65 << 20)})
    with pytest.raises(ValueError, match='far more than a CIFAR-10 batch'): load_cifar10(big, train=False, check_md5=False)


def test_python3_protocol2_batches(tmp_path):
    raw = _batch(5, protocol=2)
    assert b'_codecs' in raw                               # how Python 3 writes bytes at protocol 2
    x, y = load_cifar10(_archive(tmp_path / 'p2.tar.gz', {'test_batch': raw}), train=False, check_md5=False)
    assert x.shape == (5, 32, 32, 3) and len(y) == 5
    evil = pickle.dumps(dict(x=os.system), protocol=2)     # other globals are still refused
    with pytest.raises(ValueError, match='refusing'):
        load_cifar10(_archive(tmp_path / 'evil.tar.gz', {'test_batch': evil}), train=False, check_md5=False)


# device-correct code: sampling, BERT fine-tuning and probing on every device present
@pytest.mark.parametrize('device', DEVICES)
def test_sampling_finetune_probe_on_device(device, tokens):
    res = train(get_preset('tiny', objective='bert', max_steps=4), tokens, progress=False, device=device)
    assert next(res.model.parameters()).device.type == device
    y = torch.arange(len(tokens)) % 3
    ft = finetune(res.model, tokens[:64].long(), y[:64], tokens[64:96].long(), y[64:96], steps=4, eval_every=2, causal=False)
    assert 0 <= ft.val_accuracy <= 1
    pr = probe_layers(res.model, tokens[:64].long(), y[:64], tokens[64:96].long(), y[64:96], causal=False)
    assert set(pr) == {0, 1, 2}
    ar = train(get_preset('tiny', max_steps=2), tokens, progress=False, device=device).model
    pal = torch.linspace(-1, 1, 16)[:, None]
    g = torch.Generator(device).manual_seed(0)
    out = complete_images(ar, torch.zeros(2, 8, 8, 1, dtype=torch.uint8), pal, n_samples=2, generator=g)
    assert out.shape == (2, 2, 8, 8, 1)


# 2. the token cache records the data it was made from
def test_cache_refuses_other_data_path(tmp_path):
    from igpt_minimal.cifar10 import make_fake_cifar10
    a, b = (make_fake_cifar10(tmp_path / f'{n}.tar.gz', n_train=100, n_test=20, seed=s) for n, s in (('a', 0), ('b', 1)))
    common = ['--preset', 'cifar10-tiny', '--out', tmp_path / 'run', '--no-check-md5', '--quiet', '--max-steps', 4]
    assert igpt('train', *common, '--data-path', a)[0] == 0
    one_line_error(*igpt('train', *common, '--data-path', b, '--resume')[::2], f'made from {a.resolve()}, not {b.resolve()}')
    assert igpt('probe', '--ckpt', tmp_path / 'run')[0] == 0           # without --data-path the cached tokens are used


# issue 15: transformers stays optional, and its absence is a one-line error naming the fix
def test_export_without_transformers(run_dir, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == 'transformers' or m.startswith('transformers.')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'transformers', None)            # `import transformers` now fails
    one_line_error(*igpt('export', '--ckpt', run_dir, '--out', tmp_path / 'hf')[::2], 'pip install transformers')
    assert not (tmp_path / 'hf').exists()


# found by trying the new commands as a user would (session 6)
def _folder(root, n_per_class=8, size=32):
    from PIL import Image
    rng = np.random.default_rng(0)
    for k in ('a', 'b'):
        (root / k).mkdir(parents=True)
        for j in range(n_per_class):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / k / f'{j}.png')
    return root


def test_lock_covers_the_token_cache(tmp_path):
    from igpt_minimal.runfiles import RunLock
    _folder(tmp_path / 'imgs')
    import multiprocessing as mp                         # another process holds the run, as a second `igpt train` would
    started, stop = mp.Event(), mp.Event()
    def hold():
        with RunLock(tmp_path / 'run'): started.set(); stop.wait(30)
    p = mp.get_context('fork').Process(target=hold); p.start(); started.wait(30)
    try:
        code, _, err = igpt('train', '--preset', 'tiny', '--data', 'images', '--data-path', tmp_path / 'imgs', '--out', tmp_path / 'run', '--quiet')
        one_line_error(code, err, 'is in use by process')
        assert not (tmp_path / 'run' / 'data.json').exists()        # nothing written before the lock
    finally:
        stop.set(); p.join()


def test_resume_goes_to_the_runs_own_end(tmp_path):
    assert igpt('train', '--preset', 'tiny', '--out', tmp_path, '--quiet', '--max-steps', 30)[0] == 0
    ck = load_checkpoint(tmp_path)
    save_checkpoint(tmp_path / CKPT_NAME, **{**ck, 'step': 20})   # relabelled as step 20 of 30, as if killed there
    code, out, _ = igpt('train', '--preset', 'tiny', '--out', tmp_path, '--quiet', '--resume')   # no --max-steps
    assert code == 0 and 'trained 10 steps (step 30 of 30)' in out, out
    code, out, _ = igpt('train', '--preset', 'tiny', '--out', tmp_path, '--quiet', '--resume')
    assert code == 0 and 'nothing to train' in out, out


def test_cli_user_trial_gaps(tmp_path, run_dir):
    one_line_error(*igpt('train', '--preset', 'tiny', '--data-path', tmp_path, '--out', tmp_path / 'x', '--quiet')[::2], 'built-in digits')
    few = _folder(tmp_path / 'few', n_per_class=3)
    one_line_error(*igpt('train', '--preset', 'tiny', '--data', 'images', '--data-path', few, '--out', tmp_path / 'y', '--quiet')[::2],
                   'needs at least 7')
    photo = tmp_path / 'p.png'
    from PIL import Image
    Image.fromarray(np.zeros((20, 20, 1), np.uint8)[..., 0]).save(photo)
    for out, needle in [(tmp_path, 'is a directory'), (tmp_path / 'grid', 'must end in .png'), (photo, 'one of the input images')]:
        one_line_error(*igpt('complete', '--ckpt', run_dir, '--image', photo, '--out', out)[::2], needle)
    assert not (tmp_path / 'grid').exists()
    code, out, err = igpt('sample', '--ckpt', run_dir, '--out', tmp_path / 'u.png', '--n', 361, '--samples', 1)   # any n
    assert code == 0, err
    one_line_error(*igpt('sample', '--ckpt', run_dir, '--out', tmp_path / 'c.png', '--n', 500, '--complete')[::2], 'holds only')
    if not torch.backends.mps.is_available():
        one_line_error(*igpt('probe', '--ckpt', run_dir, '--device', 'mps')[::2], 'no Apple GPU')


def test_unreadable_checkpoint_is_not_rotated_over_the_good_one(tmp_path, tokens):
    cfg = get_preset('tiny', max_steps=12, ckpt_every=4)
    train(cfg, tokens, out_dir=tmp_path, until=8, progress=False)          # ckpt.pt at 8, ckpt-prev.pt at 4
    raw = (tmp_path / CKPT_NAME).read_bytes(); (tmp_path / CKPT_NAME).write_bytes(raw[:len(raw) // 2])   # damaged
    res = train(cfg, tokens, out_dir=tmp_path, resume=True, until=8, progress=False)   # resumes from step 4, saves at 8
    assert res.step == 8
    # the damaged file was overwritten, not rotated onto the good step-4 state
    assert load_checkpoint(tmp_path / CKPT_NAME)['step'] == 8 and load_checkpoint(tmp_path / PREV_NAME)['step'] == 4


def test_folder_headers_read_once(tmp_path, monkeypatch):
    "Both splits of a folder share one greyscale decision; an edited file is looked at again."
    from PIL import Image
    import igpt_minimal.images as images
    for i in range(10):
        Image.fromarray(np.full((12, 12), 20 * i, np.uint8)).save(tmp_path / f'{i}.png')
    calls = []
    mode = images._mode
    monkeypatch.setattr(images, '_mode', lambda f: calls.append(f) or mode(f))
    xtr, _ = images.load_image_folder(tmp_path, 8, train=True)
    xte, _ = images.load_image_folder(tmp_path, 8, train=False)
    assert xtr.shape[-1] == xte.shape[-1] == 1 and len(calls) == 10
    red = np.zeros((12, 12, 3), np.uint8)
    red[..., 0] = 200
    Image.fromarray(red).save(tmp_path / '0.png')
    assert images.load_image_folder(tmp_path, 8, train=False)[0].shape[-1] == 3   # now a colour folder


def test_cli_resume_from_prev_keeps_the_runs_own_end(tmp_path):
    "With ckpt.pt unreadable, `igpt train --resume` continues from ckpt-prev.pt to the run's own max_steps."
    d = tmp_path / 'run'
    assert igpt('train', '--preset', 'tiny', '--max-steps', 15, '--out', d, '--quiet')[0] == 0   # saves 10, 15
    (d / CKPT_NAME).write_bytes(b'damaged')
    code, out, err = igpt('train', '--preset', 'tiny', '--out', d, '--resume', '--quiet')
    assert code == 0, err
    assert 'trained 5 steps (step 15 of 15)' in out, out       # not the preset's 20 steps, not counted from 0
    assert load_checkpoint(d / CKPT_NAME)['step'] == 15
