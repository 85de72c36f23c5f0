"Tests of igpt_minimal.train: exact resume, atomic checkpoints, refusal to overwrite."
import torch, pytest
from igpt_minimal.train import get_preset, train, prepare_data, load_checkpoint, CKPT_NAME


@pytest.fixture(scope='module')
def tokens():
    return prepare_data(get_preset('tiny'))['tokens_train']


def test_resume_equals_uninterrupted(tmp_path, tokens):
    cfg = get_preset('tiny', max_steps=8, ckpt_every=2, objective='bert')
    whole = train(cfg, tokens, out_dir=tmp_path / 'a', progress=False).model
    train(cfg, tokens, out_dir=tmp_path / 'b', until=5, progress=False)   # stops after step 5; checkpoint at 5
    assert load_checkpoint(tmp_path / 'b')['step'] == 5
    resumed = train(cfg, tokens, out_dir=tmp_path / 'b', resume=True, progress=False).model
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_no_overwrite_and_no_tmp_left(tmp_path, tokens):
    cfg = get_preset('tiny', max_steps=2)
    train(cfg, tokens, out_dir=tmp_path, progress=False)
    before = (tmp_path / CKPT_NAME).read_bytes()
    with pytest.raises(FileExistsError, match='--resume'):
        train(cfg, tokens, out_dir=tmp_path, progress=False)
    assert (tmp_path / CKPT_NAME).read_bytes() == before
    assert not list(tmp_path.glob('*.tmp'))
