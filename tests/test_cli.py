"The installed `igpt` console script, run as a user would."
import json, subprocess
import igpt_minimal


def igpt(*args, **kw):
    return subprocess.run(['igpt', *map(str, args)], capture_output=True, text=True, timeout=600, **kw)


def test_help_and_version():
    r = igpt('--help'); assert r.returncode == 0 and 'demo' in r.stdout and 'train' in r.stdout
    r = igpt('--version'); assert r.returncode == 0 and igpt_minimal.__version__ in r.stdout
    r = igpt('train', '--help'); assert r.returncode == 0 and 'cifar10-tiny' in r.stdout


def test_demo_short(tmp_path):
    r = igpt('demo', '--out', tmp_path / 'demo', '--max-steps', 30, '--quiet')
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / 'demo' / 'metrics.json').read_text())
    for k in ('test_nll_bits_per_token', 'train_seconds', 'steps', 'probe_layer', 'probe_test_accuracy', 'probe_val_accuracy_by_layer',
              'probe_test_accuracy_by_layer', 'pixel_test_accuracy', 'probe_minus_pixel', 'probe_minus_pixel_ci95', 'probe_test_ci95'):
        assert k in m, k
    assert 'pixel_baseline_best_accuracy' not in m                    # a figure chosen on the test split is not reported
    assert m['steps'] == 30 and m['test_nll_bits_per_token'] < 4.0
    val = {int(l): a for l, a in m['probe_val_accuracy_by_layer'].items()}
    assert m['probe_layer'] in val and val[m['probe_layer']] == max(val.values())   # the reported layer is chosen on validation
    assert m['probe_test_accuracy'] == m['probe_test_accuracy_by_layer'][str(m['probe_layer'])] == m['probe_accuracy']
    lo, hi = m['probe_test_ci95']; assert lo < m['probe_test_accuracy'] < hi
    assert abs(m['probe_minus_pixel'] - (m['probe_test_accuracy'] - m['pixel_test_accuracy'])) < 1e-6
    for f in ('completions.png', 'loss.png', 'probe_layers.png'):
        assert (tmp_path / 'demo' / f).read_bytes()[:4] == b'\x89PNG'
    r = igpt('demo', '--out', tmp_path / 'demo', '--quiet')           # refuses to overwrite the run
    assert r.returncode == 2 and 'already holds a run' in r.stderr and '\n' == r.stderr[-1] and r.stderr.count('\n') == 1


def test_clear_errors(tmp_path):
    r = igpt('train', '--preset', 'cifar10-tiny', '--out', tmp_path / 'x', '--data-path', tmp_path / 'missing.tar.gz', '--quiet')
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr
    r = igpt('train', '--preset', 'tiny', '--out', tmp_path / 'y', '--resume', '--quiet')
    assert r.returncode == 2 and 'nothing to resume' in r.stderr
