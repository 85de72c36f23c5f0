"""Issue 22's defects, one test each (numbered as in the issue), and the checks made before the first GPU run.
Each test failed before its fix."""
import errno, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest, torch
from test_integrity import igpt, one_line_error, run_dir   # run_dir: a finished 20-step tiny run, its cache too
from igpt_minimal.runfiles import load_checkpoint, save_checkpoint, CKPT_NAME, PREV_NAME, WEIGHTS_NAME
from igpt_minimal.train import get_preset, load_model, read_metrics
from igpt_minimal.model import IGPT, IGPTConfig

ROOT = Path(__file__).resolve().parents[1]


def copy_run(run_dir, dest) -> Path:
    shutil.copytree(run_dir, dest)
    return dest


def weights_only(run_dir, path, **extra):
    "Write the run's weights (no optimizer state) to `path`, as a finished run's model.pt holds them."
    s = load_checkpoint(run_dir)
    save_checkpoint(path, **{**{k: s[k] for k in ('model', 'config', 'step', 'palette')}, **extra})


def png_folder(root, n_per_class=10, classes=('a', 'b'), sub=None, seed=0):
    "Small RGB PNGs, `n_per_class` in each class folder (in class/sub/ if `sub`)."
    from PIL import Image
    rng = np.random.default_rng(seed)
    for c in classes:
        d = Path(root)/c/(sub or '')
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(d/f'{i}.png')
    return Path(root)


# 1. a new run never writes into a directory holding a run's files
def test_new_run_refused_over_a_weights_only_run(run_dir, tmp_path):
    d = tmp_path/'fashion'
    d.mkdir()
    weights_only(run_dir, d/WEIGHTS_NAME, step=3500)
    (d/'metrics.jsonl').write_text(''.join(json.dumps(dict(step=s, loss=1.0)) + '\n' for s in range(25, 3501, 25)))
    (d/'loss.png').write_bytes(b'\x89PNG the run\'s plot')
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    code, _, err = igpt('train', '--preset', 'tiny', '--out', d, '--quiet')
    one_line_error(code, err, 'already holds a run', 'model.pt', 'choose another --out')
    assert 'pass --resume' not in err
    code, _, err = igpt('train', '--preset', 'tiny', '--out', d, '--quiet', '--resume')   # 10. no advice to drop --resume
    one_line_error(code, err, 'cannot be continued', 'choose another --out')
    assert 'drop --resume' not in err
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before                  # nothing written, nothing cut
    assert load_model(d)[2]['step'] == 3500


# 10. a weights-only ckpt.pt: the same advice with and without --resume
def test_weights_only_checkpoint_advice_agrees(run_dir, tmp_path):
    weights_only(run_dir, tmp_path/CKPT_NAME)
    for extra in ([], ['--resume']):
        code, _, err = igpt('train', '--preset', 'tiny', '--out', tmp_path, '--quiet', *extra)
        one_line_error(code, err, 'weights only', 'choose another --out')
        assert 'pass --resume' not in err and 'drop --resume' not in err


# 2. the checkpoint's palette is the run's palette: sample and probe never refit another one
def test_sample_and_probe_use_the_checkpoints_palette(run_dir, tmp_path):
    s = load_checkpoint(run_dir)
    other = s['palette'].flip(0).contiguous() * 0.5                   # differs from what a refit would give
    alone = tmp_path/'alone'
    alone.mkdir()
    save_checkpoint(alone/CKPT_NAME, **dict(s, palette=other))
    assert igpt('sample', '--ckpt', alone/CKPT_NAME, '--out', tmp_path/'s.png', '--n', 1, '--samples', 1)[0] == 0
    assert np.array_equal(np.load(alone/'palette.npy'), other.numpy())      # tokens made with the checkpoint's
    copied = copy_run(run_dir, tmp_path/'copied')                      # a cache made with another palette
    save_checkpoint(copied/CKPT_NAME, **dict(s, palette=other))
    for cmd in (['probe', '--ckpt', copied], ['sample', '--ckpt', copied, '--out', tmp_path/'t.png']):
        one_line_error(*igpt(*cmd)[::2], 'palette')
    assert not (tmp_path/'t.png').exists()


# 3. a real full disk: a one-line message, no partial file, the previous checkpoint intact
def test_real_full_disk(tmp_path):
    mnt = tmp_path/'small'
    mnt.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(mnt)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f"cannot mount a 1 MB tmpfs here ({(r.stderr or r.stdout).strip()})")
    try:
        r = subprocess.run([sys.executable, '-m', 'igpt_minimal.cli', 'train', '--preset', 'tiny', '--out', mnt/'run',
                            '--quiet', '--max-steps', '60'], capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
        one_line_error(r.returncode, r.stderr, 'the disk is full')
        assert not [p for p in (mnt/'run').iterdir() if p.name.endswith('.tmp')]
        if (mnt/'run'/CKPT_NAME).exists(): load_checkpoint(mnt/'run'/CKPT_NAME)   # complete, readable
    finally:
        subprocess.run(['umount', str(mnt)], check=True)


# 4. a torn last line of metrics.jsonl is dropped on resume, and said
def test_torn_metrics_line_dropped_on_resume(run_dir, tmp_path):
    d = copy_run(run_dir, tmp_path/'r')
    with open(d/'metrics.jsonl', 'a') as f: f.write('{"step": 25, "loss": 1.2, "lr"')
    code, out, err = igpt('train', '--preset', 'tiny', '--out', d, '--quiet', '--resume', '--max-steps', 25)
    assert code == 0, err
    assert 'torn' in out and 'metrics.jsonl' in out
    assert [r['step'] for r in read_metrics(d)][-2:] == [20, 25]


# 5. run outputs never become training images
def test_out_inside_data_path_refused(tmp_path):
    data = png_folder(tmp_path/'imgs')
    code, _, err = igpt('train', '--preset', 'tiny', '--data', 'images', '--data-path', data, '--out', data/'a'/'run', '--quiet')
    one_line_error(code, err, 'inside --data-path')
    assert not (data/'a'/'run').exists()


# 6. images in sub-folders of a class are used, not dropped
def test_nested_class_folders_recursed(tmp_path):
    from igpt_minimal.images import load_image_folder
    data = png_folder(tmp_path/'imgs')
    png_folder(data, sub='more', seed=1)
    n = sum(len(load_image_folder(data, 8, train=t)[0]) for t in (True, False))
    assert n == 40


# 7. a sample request bigger than memory is refused before it starts
def test_sample_larger_than_memory_refused(run_dir, tmp_path):
    t = time.time()
    code, _, err = igpt('sample', '--ckpt', run_dir, '--out', tmp_path/'s.png', '--n', 10**6)
    one_line_error(code, err, '--n 1000000', 'memory', 'at most --n')
    assert time.time() - t < 20 and not (tmp_path/'s.png').exists()


# 8. complete never writes over its input, not even through a hard link
def test_complete_refuses_a_hard_link_to_its_input(run_dir, tmp_path):
    from PIL import Image
    img = tmp_path/'in.png'
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    os.link(img, tmp_path/'link.png')
    before = img.read_bytes()
    one_line_error(*igpt('complete', '--ckpt', run_dir, '--image', img, '--out', tmp_path/'link.png')[::2],
                   'is one of the input images')
    assert img.read_bytes() == before


# 9. an extracted CIFAR-10 folder is capped per file like the archive
def test_cifar10_folder_size_cap(tmp_path):
    from igpt_minimal.cifar10 import load_cifar10
    d = tmp_path/'cifar-10-batches-py'
    d.mkdir()
    for n in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        with open(d/n, 'wb') as f: f.truncate(3 << 30)                  # sparse: 3 GB that take no disk
    t = time.time()
    with pytest.raises(ValueError, match='far more than a CIFAR-10 batch'): load_cifar10(d)
    assert time.time() - t < 5


# 11. a file name that is not UTF-8 is printed, not fatal, under a strict UTF-8 stdout
def test_skip_bad_images_with_a_non_utf8_name(tmp_path):
    data = png_folder(tmp_path/'imgs')
    with open(os.path.join(os.fsencode(data/'a'), b'bad\xff.png'), 'wb') as f: f.write(b'not an image')
    env = dict(os.environ, PYTHONIOENCODING='utf-8', PYTHONPATH=str(ROOT))
    out = os.fsencode(tmp_path) + b'/run\xff'                         # printed at the end: escaped, not fatal
    r = subprocess.run([sys.executable, '-m', 'igpt_minimal.cli', 'train', '--preset', 'tiny', '--data', 'images',
                        '--data-path', data, '--out', out, '--skip-bad-images', '--max-steps', '2', '--quiet'],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'skipped 1 unreadable image' in r.stdout and 'bad' in r.stdout and 'checkpoint: ' in r.stdout


# 12. probe prints the path it really wrote
def test_probe_plot_path_printed_as_written(run_dir, tmp_path):
    (tmp_path/'plots').mkdir()
    for given in (tmp_path/'name', tmp_path/'plots'):
        code, out, err = igpt('probe', '--ckpt', run_dir, '--plot', given, '--layers', '0,1')
        assert code == 0, err
        shown = Path(re.search(r'plot: (.*)', out).group(1))
        assert shown.suffix == '.png' and shown.read_bytes()[:4] == b'\x89PNG', shown


# 13. probe names only its own options, and shows its report before writing files
def test_probe_read_only_run_keeps_the_report(run_dir, tmp_path, monkeypatch):
    import matplotlib.figure
    def read_only(self, path, *a, **k): raise OSError(errno.EROFS, 'Read-only file system', str(path))
    monkeypatch.setattr(matplotlib.figure.Figure, 'savefig', read_only)
    code, out, err = igpt('probe', '--ckpt', run_dir, '--layers', '0,1')
    one_line_error(code, err, 'read-only', '--plot')
    assert '--out' not in err
    assert 'chosen on validation' in out                               # the computed report is not lost


# 14. API edges
def test_api_edges(run_dir, tmp_path):
    from igpt_minimal.kmeans import fit_palette
    m = IGPT(IGPTConfig(n_colors=16, n_positions=64, n_embd=32, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match='empty'): m(torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match='no pixels'): fit_palette(torch.zeros(0, 8, 8, 3, dtype=torch.uint8))
    s = load_checkpoint(run_dir)
    save_checkpoint(tmp_path/CKPT_NAME, **dict(s, config='tiny'))
    with pytest.raises(ValueError, match=r"config is a str, not a dict"): load_model(tmp_path)


# 15. a crashed save's temporary file is removed by a later run
def test_stale_temporaries_removed(run_dir, tmp_path):
    d = copy_run(run_dir, tmp_path/'r')
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    stale, live = d/f'.{CKPT_NAME}.{dead.pid}.tmp', d/f'.{CKPT_NAME}.1.tmp'   # pid 1 is alive
    stale.write_bytes(b'half a checkpoint')
    live.write_bytes(b'being written')
    code, out, err = igpt('train', '--preset', 'tiny', '--out', d, '--quiet', '--resume', '--max-steps', 21)
    assert code == 0, err
    assert not stale.exists() and live.exists() and 'removed 1 stale temporary file' in out


# Before the first GPU run: plan's activation memory is measured, not assumed
def saved_bytes(model, x, objective) -> int:
    "Bytes of the distinct tensors autograd saves for backward in one forward + loss under CPU bf16 autocast."
    from igpt_minimal.losses import ar_loss, bert_loss, bert_mask
    seen = {}
    def pack(t):
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
        return t
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.autocast('cpu', dtype=torch.bfloat16):
        if objective == 'ar': ar_loss(model, x)
        else: bert_loss(model, x, mask=bert_mask(x.shape, 0.15, torch.Generator().manual_seed(0)))
    return sum(b for p, b in seen.items() if p not in params)


@pytest.mark.parametrize('shape, objective', [((16, 512, 128, 4, 4), 'ar'), ((16, 512, 128, 4, 4), 'bert'),
                                              ((12, 16, 256, 3, 4), 'ar'), ((8, 512, 64, 2, 2), 'ar')])
def test_plan_activation_memory_is_measured(shape, objective, monkeypatch):
    import torch.nn.functional as F
    import igpt_minimal.model as model_mod
    from igpt_minimal.scale import plan
    # attention as a GPU runs it (SDPA: flash attention keeps no T×T weights); a CPU in bf16 takes the plain path
    monkeypatch.setattr(model_mod, 'attend', lambda q, k, v, causal=True:
                        F.scaled_dot_product_attention(q, k, v, is_causal=causal and q.shape[-2] > 1))
    cfg = get_preset('tiny', model=shape, objective=objective, batch_size=2)
    torch.manual_seed(0)
    model = IGPT(cfg.model)
    x = torch.randint(0, cfg.n_colors, (4, cfg.image_size ** 2))
    # per image: two batch sizes apart, so what is kept once per batch (bf16 weight copies) cancels out
    measured = (saved_bytes(model, x, objective) - saved_bytes(model, x[:2], objective)) / 2
    est = plan(cfg)['activation_bytes_per_sample']
    assert abs(est - measured) / measured < 0.15, (est, measured)


# BERT's "at least one masked position" reads no value back (on a GPU that would wait for the device every step)
def test_bert_mask_never_reads_values_back():
    from igpt_minimal.losses import bert_mask
    m = bert_mask((4, 64), 0.15, device='meta')             # meta tensors have no values: reading one raises
    assert m.shape == (4, 64) and m.dtype == torch.bool
    g = torch.Generator().manual_seed(0)
    assert bert_mask((256, 3), 0.01, g).any(1).all()         # still at least one per row


# the real minimum torch, checked at import
def test_minimum_torch_checked_at_import():
    import igpt_minimal
    assert 'torch>=2.4' in (ROOT/'settings.ini').read_text()
    for v in ('2.3.1', '2.2.0+cu121', '1.13.1'):
        with pytest.raises(ImportError, match=r'torch >= 2\.4'): igpt_minimal._check_torch(v)
    for v in ('2.4.0', '2.5.0a0+git1234', '2.13.0+cpu', '3.0.0'): igpt_minimal._check_torch(v)


# a distributed run leaves no process group behind
DDP_SCRIPT = """
import sys, torch.distributed as dist
from igpt_minimal.cli import main
code = main(['train', '--preset', 'tiny', '--out', sys.argv[1], '--max-steps', '4', '--quiet', '--device', 'cpu'])
print('exit', code, 'initialized', dist.is_initialized())
"""

def test_distributed_run_destroys_its_process_group(tmp_path):
    script = tmp_path/'ddp.py'
    script.write_text(DDP_SCRIPT)
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(script),
                        str(tmp_path/'run')], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1'))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count('exit 0 initialized False') == 2, r.stdout
    assert 'on 2 processes' in r.stdout


# Issue 22b (the trial's case numbers)
# 5 (cases 99, 100). a config that would give NaN logits, or a bool for a size, is refused
def test_config_refuses_bad_norm_eps_and_bools():
    for eps in (float('nan'), float('inf'), -1.0, 0.0):
        with pytest.raises(ValueError, match='norm_eps'): IGPTConfig(norm_eps=eps)
    with pytest.raises(ValueError, match='n_layer'): IGPTConfig(n_layer=True)
    assert IGPTConfig(norm_eps=1e-6).norm_eps == 1e-6


# 6 (case 102). empty batches and a row masking nothing are refused, not a NaN loss
def test_losses_refuse_empty_batches_and_empty_mask_rows():
    from igpt_minimal.losses import ar_loss, bert_loss
    m = IGPT(IGPTConfig(n_colors=16, n_positions=64, n_embd=32, n_layer=1, n_head=2))
    empty = torch.zeros(0, 64, dtype=torch.long)
    with pytest.raises(ValueError, match='empty batch'): ar_loss(m, empty)
    with pytest.raises(ValueError, match='empty batch'): bert_loss(m, empty)
    x = torch.zeros(2, 64, dtype=torch.long)
    mask = torch.zeros(2, 64, dtype=torch.bool)
    mask[0, 3] = True
    with pytest.raises(ValueError, match='row 1 masks no position'): bert_loss(m, x, mask=mask)
    mask[1, 5] = True
    assert torch.isfinite(bert_loss(m, x, mask=mask))


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, '-c', 'pass'])
    p.wait()
    return p.pid


# 1 (case 23). the stale-temporary clean-up deletes only this project's temporaries
def test_stale_cleanup_keeps_a_users_tmp_file(tmp_path):
    mine = tmp_path/'mine'
    mine.mkdir()
    notes, ours = mine/f'.notes.{dead_pid()}.tmp', mine/f'.data.json.{dead_pid()}.tmp'
    notes.write_text('notes')
    ours.write_text('{"half')
    code, out, err = igpt('train', '--preset', 'tiny', '--out', mine, '--quiet', '--max-steps', 2)
    assert code == 0, err
    assert notes.read_text() == 'notes' and not ours.exists()


# 7 (cases 20, 21). a metrics line that is JSON but not a record: one line naming the file and the line
@pytest.mark.parametrize('bad', ['[1, 2]', '{"loss": 1.0}'])
def test_resume_with_a_metrics_line_that_is_not_a_record(run_dir, tmp_path, bad):
    d = copy_run(run_dir, tmp_path/'r')
    lines = (d/'metrics.jsonl').read_text().splitlines()
    (d/'metrics.jsonl').write_text('\n'.join([lines[0], bad] + lines[1:]) + '\n')
    code, _, err = igpt('train', '--preset', 'tiny', '--out', d, '--quiet', '--resume', '--max-steps', 21)
    one_line_error(code, err, 'metrics.jsonl: line 2 is not a metrics record', 'fix or delete that line')


# 9 (case 41). an unreadable ckpt.pt with no ckpt-prev.pt: a new run says so, instead of advising --resume
def test_new_run_over_an_unreadable_checkpoint(run_dir, tmp_path):
    d = copy_run(run_dir, tmp_path/'r')
    (d/PREV_NAME).unlink(missing_ok=True)
    (d/CKPT_NAME).write_bytes(b'\0' * 100)
    code, _, err = igpt('train', '--preset', 'tiny', '--out', d, '--quiet')
    one_line_error(code, err, 'ckpt.pt is unreadable', 'move it away or choose another --out')
    assert 'pass --resume' not in err


# 13 (cases 26, 33). a failed write names the file asked for, never its temporary, and always a file
def test_write_errors_name_the_file(tmp_path, monkeypatch):
    from igpt_minimal.runfiles import write_text, save_npy
    def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')      # as f.write reports it: no name
    monkeypatch.setattr(np, 'save', full)
    with pytest.raises(OSError) as e: save_npy(tmp_path/'tokens_train.npy', np.zeros(3))
    assert e.value.filename == str(tmp_path/'tokens_train.npy')
    def full_named(self, *a, **k): raise OSError(errno.ENOSPC, 'No space left on device', str(self))  # the temporary
    monkeypatch.setattr(Path, 'write_text', full_named)
    with pytest.raises(OSError) as e: write_text(tmp_path/'probe.json', '{}')
    assert e.value.filename == str(tmp_path/'probe.json')
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def full_disk(tmp_path):
    "A 1 MB tmpfs, filled to the last byte after `fill()`; skipped where mounting is refused."
    mnt = tmp_path/'small'
    mnt.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(mnt)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f"cannot mount a 1 MB tmpfs here ({(r.stderr or r.stdout).strip()})")
    def fill(leave:int=0):
        fd = os.open(mnt/'filler', os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError, match='No space'):
                while True: os.write(fd, b'\0' * 4096)
            os.ftruncate(fd, os.fstat(fd).st_size - leave)       # `leave` bytes free again
        finally: os.close(fd)
    try: yield mnt, fill
    finally: subprocess.run(['umount', str(mnt)], check=True)


# 2 (cases 34-37). a PNG written on a full disk: the old one survives intact, one line names the file
def test_png_outputs_survive_a_full_disk(run_dir, tmp_path, full_disk):
    from PIL import Image
    mnt, fill = full_disk
    img = tmp_path/'in.png'
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    # each new PNG is larger than the 4 KB page its old file frees when truncated: writing in place would fail half-way
    runs = [('sample', '--ckpt', run_dir, '--n', 8, '--samples', 4, '--out'),
            ('sample', '--ckpt', run_dir, '--n', 4, '--samples', 2, '--complete', '--out'),
            ('complete', '--ckpt', run_dir, '--image', img, img, '--n', 2, '--out'),
            ('probe', '--ckpt', run_dir, '--layers', '0', '--plot')]
    for i in range(len(runs)): Image.fromarray(np.full((1, 1, 3), i, np.uint8)).save(mnt/f'{i}.png')   # older PNGs
    before = {p.name: p.read_bytes() for p in mnt.iterdir()}
    fill()
    for i, cmd in enumerate(runs):
        code, _, err = igpt(*cmd, mnt/f'{i}.png')
        one_line_error(code, err, f'cannot write {mnt/f"{i}.png"}', 'the disk is full')
    assert {p.name: p.read_bytes() for p in mnt.iterdir() if p.name != 'filler'} == before     # no temporaries


# 3 (case 38). export on a full disk: one line, nothing half-written left, and a retry works once there is room
@pytest.mark.parametrize('leave', [0, 16 << 10])     # 16 KB: the small JSON files fit, the weights do not
def test_export_on_a_full_disk_leaves_nothing(run_dir, full_disk, leave):
    pytest.importorskip('transformers')
    mnt, fill = full_disk
    fill(leave)
    code, _, err = igpt('export', '--ckpt', run_dir, '--out', mnt/'hf')
    one_line_error(code, err, f'cannot write {mnt/"hf"}', 'the disk is full')
    assert sorted(p.name for p in mnt.iterdir()) == ['filler']
    (mnt/'filler').unlink()
    code, _, err = igpt('export', '--ckpt', run_dir, '--out', mnt/'hf')
    assert code == 0, err
    assert (mnt/'hf'/'config.json').exists() and sorted(p.name for p in mnt.iterdir()) == ['hf']


def drop_run_files(d):
    "Delete a run's files by hand, keeping only its token cache."
    from igpt_minimal.runfiles import run_files
    for n in run_files(d): (d/n).unlink()


# 4 (case 79). a new run over a stale token cache: the folder changed since, so the cache is refused
def test_new_run_refuses_a_token_cache_of_a_changed_folder(tmp_path):
    data, run = png_folder(tmp_path/'imgs'), tmp_path/'run'
    train = lambda: igpt('train', '--preset', 'tiny', '--data', 'images', '--data-path', data, '--out', run,
                         '--quiet', '--max-steps', 2)
    assert train()[0] == 0
    drop_run_files(run)
    assert train()[0] == 0                                   # the folder as it was: the cache is used
    drop_run_files(run)
    png_folder(data, sub='more', seed=1)                     # more images since
    code, _, err = train()
    one_line_error(code, err, 'changed since', f'delete {run/"data.json"}', 'another --out')
    key = json.loads((run/'data.json').read_text())          # a cache from before fingerprints: refused for images
    del key['fingerprint']
    (run/'data.json').write_text(json.dumps(key))
    code, _, err = train()
    one_line_error(code, err, 'did not record', f'delete {run/"data.json"}')
    (run/'data.json').unlink()                               # npy files without data.json: not overwritten
    code, _, err = train()
    one_line_error(code, err, 'tokens_train.npy', 'no data.json', 'not overwritten')
    for f in run.glob('*.npy'): f.unlink()
    assert train()[0] == 0
    assert len(np.load(run/'tokens_train.npy')) + len(np.load(run/'tokens_val.npy')) > 30    # the new images too


# 8 (cases 29, 30). sample and probe on a checkpoint in a read-only folder: tokens made in memory, said
def test_sample_and_probe_on_a_read_only_run(run_dir, tmp_path, full_disk):
    mnt, _ = full_disk
    (mnt/'run').mkdir()
    shutil.copy(run_dir/CKPT_NAME, mnt/'run'/CKPT_NAME)              # the checkpoint alone: no token cache
    r = subprocess.run(['mount', '-o', 'remount,ro', str(mnt)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f"cannot remount read-only here ({(r.stderr or r.stdout).strip()})")
    code, out, err = igpt('sample', '--ckpt', mnt/'run', '--out', tmp_path/'s.png', '--n', 2, '--samples', 1)
    assert code == 0, err
    assert 'in memory' in out and (tmp_path/'s.png').exists()
    code, out, err = igpt('probe', '--ckpt', mnt/'run', '--layers', '0', '--plot', tmp_path/'p.png')
    assert code == 0, err
    assert 'in memory' in out and 'chosen on validation' in out and 'probe.json' in out
    code, out, err = igpt('probe', '--ckpt', mnt/'run', '--layers', '0')          # the plot in the run folder
    one_line_error(code, err, f'cannot write {mnt/"run"/"probe_layers.png"}', 'read-only', 'the report above',
                   '--plot')
    assert 'chosen on validation' in out
    code, out, err = igpt('probe', '--ckpt', mnt/'run', '--layers', '0', '--plot', mnt/'new'/'p.png')
    one_line_error(code, err, 'read-only')
    assert 'report above' not in err                                            # none was shown


# 10 (case 83). sample and probe with another --data-path than the run's cache: advice those commands can follow
def test_sample_and_probe_data_path_advice(tmp_path):
    data, run = png_folder(tmp_path/'imgs'), tmp_path/'run'
    assert igpt('train', '--preset', 'tiny', '--data', 'images', '--data-path', data, '--out', run, '--quiet',
                '--max-steps', 2)[0] == 0
    other = png_folder(tmp_path/'other', seed=2)
    for cmd in (['sample', '--out', tmp_path/'s.png'], ['probe']):
        code, _, err = igpt(*cmd, '--ckpt', run, '--data-path', other)
        one_line_error(code, err, 'drop --data-path', 'copy')
        assert 'another --out' not in err                  # neither command has a run directory option


# 11 (case 85). too many samples per image: name --samples and a limit that is valid
def test_sample_memory_refusal_names_samples(run_dir, tmp_path):
    code, _, err = igpt('sample', '--ckpt', run_dir, '--out', tmp_path/'s.png', '--n', 5, '--samples', 10**8)
    one_line_error(code, err, 'at most --samples')
    assert '--n 0' not in err
    limit = int(re.search(r'at most --samples ([\d,]+)', err).group(1).replace(',', ''))
    assert limit >= 1


# 12 (case 109). a run folder holding only ckpt-prev.pt (a crash between the two renames): sample uses it, and says so
def test_sample_falls_back_to_the_previous_checkpoint(run_dir, tmp_path):
    d = copy_run(run_dir, tmp_path/'r')
    (d/PREV_NAME).unlink(missing_ok=True)
    (d/CKPT_NAME).rename(d/PREV_NAME)
    code, out, err = igpt('sample', '--ckpt', d, '--out', tmp_path/'s.png', '--n', 1, '--samples', 1)
    assert code == 0, err
    assert PREV_NAME in out and (tmp_path/'s.png').exists()


# 13 (case 33). the token cache on a full disk: the one-line error names the file
def test_token_cache_on_a_full_disk_names_the_file(run_dir, tmp_path, full_disk):
    mnt, fill = full_disk
    (mnt/'run').mkdir()
    shutil.copy(run_dir/CKPT_NAME, mnt/'run'/CKPT_NAME)              # no token cache yet: sample writes one
    fill()
    code, _, err = igpt('sample', '--ckpt', mnt/'run', '--out', tmp_path/'s.png', '--n', 1, '--samples', 1)
    one_line_error(code, err, f'cannot write {mnt/"run"/"tokens_train.npy"}', 'the disk is full')
    assert not [p for p in (mnt/'run').iterdir() if p.name.endswith('.tmp')]


# Second trial, N52: a plain --resume keeps the precision the run trained in (tiny's preset says fp32)
def test_cli_resume_keeps_the_runs_precision(tmp_path):
    d = tmp_path/'bf'
    assert igpt('train', '--preset', 'tiny', '--precision', 'bf16', '--max-steps', 4, '--out', d, '--quiet')[0] == 0
    assert igpt('train', '--preset', 'tiny', '--max-steps', 8, '--out', d, '--resume', '--quiet')[0] == 0
    firsts = [json.loads(l) for l in (d/'metrics.jsonl').read_text().splitlines() if 'precision' in l]
    assert [(r['precision'], r['precision_why']) for r in firsts] == [('bf16', 'asked for'),
                                                                       ('bf16', "the run's own, resumed")]


# Second trial, N5: a new run never overwrites .npy files it did not write (no data.json marks them as its cache)
def test_new_run_keeps_a_users_npy_files(tmp_path):
    d = tmp_path/'mine'
    d.mkdir()
    np.save(d/'palette.npy', np.arange(6.).reshape(2, 3))
    before = (d/'palette.npy').read_bytes()
    code, _, err = igpt('train', '--preset', 'tiny', '--out', d, '--quiet')
    one_line_error(code, err, 'palette.npy', 'no data.json', 'not overwritten')
    assert (d/'palette.npy').read_bytes() == before


# Second trial, N1: a hand-edited metrics line without a loss does not crash the loss plot at the end of a run
def test_loss_plot_skips_a_line_without_a_loss(tmp_path):
    from igpt_minimal.train import plot_losses
    plot_losses([{'step': 1, 'loss': 2.0}, {'step': 15}, {'step': 20, 'loss': 1.5}], tmp_path/'loss.png')
    assert (tmp_path/'loss.png').stat().st_size > 0


# Second trial, N55: a damaged token cache gives one line naming the damaged file
def test_damaged_token_cache_names_the_file(run_dir, tmp_path):
    for name, damage in (('tokens_test.npy', lambda p: p.write_bytes(p.read_bytes()[:100])),
                         ('data.json', lambda p: p.write_text('{bad')), ('data.json', lambda p: p.write_text('[1]'))):
        d = copy_run(run_dir, tmp_path/f'{name}-{len(list(tmp_path.iterdir()))}')
        damage(d/name)
        code, _, err = igpt('sample', '--ckpt', d, '--complete', '--out', tmp_path/'s.png', '--n', 1, '--samples', 1)
        one_line_error(code, err, str(d/name), 'to rebuild the tokens')


# A run kept as its weights and palette only (like the committed runs/fashion): sample rebuilds the token cache
# beside the palette, which is the checkpoint's own; a palette.npy that differs from the checkpoint's is never touched
def test_run_without_its_cache_rebuilds_it_beside_its_palette(run_dir, tmp_path):
    d = tmp_path/'kept'
    d.mkdir()
    shutil.copy(run_dir/CKPT_NAME, d/CKPT_NAME)
    shutil.copy(run_dir/'palette.npy', d/'palette.npy')
    before = (d/'palette.npy').read_bytes()
    code, _, err = igpt('sample', '--ckpt', d, '--out', tmp_path/'s.png', '--n', 1, '--samples', 1)
    assert code == 0, err
    assert (d/'data.json').exists() and (d/'tokens_test.npy').exists() and (d/'palette.npy').read_bytes() == before
    # a rebuild that crashed before data.json: only its token files are named, the checkpoint's palette stays
    (d/'data.json').unlink()
    code, _, err = igpt('sample', '--ckpt', d, '--out', tmp_path/'s.png', '--n', 1, '--samples', 1)
    one_line_error(code, err, 'tokens_train.npy', 'not overwritten', "palette.npy is the checkpoint's and stays")
    assert 'palette.npy,' not in err and (d/'palette.npy').read_bytes() == before
    for f in d.glob('tokens_*.npy'): f.unlink()
    for f in d.glob('labels_*.npy'): f.unlink()
    code, _, err = igpt('sample', '--ckpt', d, '--out', tmp_path/'s.png', '--n', 1, '--samples', 1)
    assert code == 0, err
    other = tmp_path/'other'
    other.mkdir()
    shutil.copy(run_dir/CKPT_NAME, other/CKPT_NAME)
    np.save(other/'palette.npy', np.load(run_dir/'palette.npy') * 0.5)      # not the checkpoint's palette
    before = (other/'palette.npy').read_bytes()
    code, _, err = igpt('sample', '--ckpt', other, '--out', tmp_path/'t.png', '--n', 1, '--samples', 1)
    one_line_error(code, err, 'palette.npy', 'no data.json', 'not overwritten')
    assert (other/'palette.npy').read_bytes() == before and not (other/'data.json').exists()
