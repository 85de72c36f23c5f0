__version__ = "0.1.0"

MIN_TORCH = (2, 4)   # F.rms_norm (chapter 02's norm) first appears in torch 2.4; settings.ini requires the same

def _check_torch(version:str):
    "Refuse, at import, a torch older than MIN_TORCH: it would otherwise fail at the first forward pass."
    import re
    m = re.match(r'(\d+)\.(\d+)', version)
    if m and tuple(map(int, m.groups())) < MIN_TORCH:
        raise ImportError(f"igpt_minimal needs torch >= {'.'.join(map(str, MIN_TORCH))} (for F.rms_norm), but "
                          f"torch {version} is installed: pip install -U 'torch>=2.4'")

import torch as _torch
_check_torch(_torch.__version__)
