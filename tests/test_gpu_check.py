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
    for part in ('device-tests: ok', 'demo: ok', 'train: ok', 'finetune: ok', 'sample: ok', 'ddp: ok', 'cuda-cells: skipped'):
        assert f'## {part}' in report, (part, report)
    assert 'failed parts: none' in report and 'tokens/s' in report
    assert 'DDP exercised: torchrun over 2 processes on cpu (gloo)' in report      # not one process on the plain path
    assert 'precision auto: ' in report                                             # what auto chose, and why


def test_dev_extras_and_device_names():
    import importlib.util
    spec = importlib.util.spec_from_file_location('gpu_check', ROOT/'tools'/'gpu_check.py')
    gc = importlib.util.module_from_spec(spec); spec.loader.exec_module(gc)
    assert 'no_such_module_here' in gc.missing_extras(('pytest', 'no_such_module_here'))
    assert gc.BUDGET < 600
    from igpt_minimal.scale import gpu_by_name, GPU_PEAK_BF16
    names = {'NVIDIA H100 PCIe': 756e12, 'NVIDIA H100 80GB HBM3': 989e12, 'NVIDIA H100 NVL': 835e12, 'NVIDIA H200': 989e12,
             'NVIDIA L40S': 362e12, 'NVIDIA L4': 121e12, 'NVIDIA A100-SXM4-40GB': 312e12, 'NVIDIA A100 80GB PCIe': 312e12}
    assert {n: GPU_PEAK_BF16[gpu_by_name(n)] for n in names} == names
    assert gpu_by_name('NVIDIA L40') is None and gpu_by_name('NVIDIA H100') is None   # unknown: measured, never guessed
