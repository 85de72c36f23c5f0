"tools/gpu_check.sh: exits cleanly without CUDA, and every part it can runs on the CPU with tiny shapes."
import subprocess
from pathlib import Path
import pytest, torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason='with CUDA present the script runs the full check (up to 10 minutes)')
def test_exits_cleanly_without_cuda():
    r = subprocess.run(['bash', ROOT/'tools'/'gpu_check.sh'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and 'no CUDA device here' in r.stdout and '--device cpu --tiny' in r.stdout


def test_cpu_rehearsal(tmp_path):
    out = tmp_path/'report.md'
    r = subprocess.run(['bash', ROOT/'tools'/'gpu_check.sh', '--device', 'cpu', '--tiny', '--out', out],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    report = out.read_text()
    for part in ('device-tests: ok', 'demo: ok', 'train: ok', 'sample: ok', 'ddp: ok', 'cuda-cells: skipped'):
        assert f'## {part}' in report, (part, report)
    assert 'failed parts: none' in report and 'tokens/s' in report
