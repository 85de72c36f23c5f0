"Fixtures shared by the test files."
import pytest
from igpt_minimal.train import get_preset, prepare_data


@pytest.fixture(scope='session')
def tokens():
    "The tiny preset's training tokens (the 8x8 digits, 16 colours)."
    return prepare_data(get_preset('tiny'))['tokens_train']
