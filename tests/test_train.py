"Tests of igpt_minimal.train: exact resume (BERT; chapter 04 tests AR), atomic checkpoints, refusals."
import re
from dataclasses import asdict
import torch, pytest
from igpt_minimal.model import IGPT, IGPTConfig
from igpt_minimal.train import get_preset, train, prepare_data, load_model, TrainConfig, config_from_dict
from igpt_minimal.runfiles import load_checkpoint, save_checkpoint, CKPT_NAME


def test_resume_equals_uninterrupted(tmp_path, tokens):
    cfg = get_preset('tiny', max_steps=8, ckpt_every=2, objective='bert')
    whole = train(cfg, tokens, out_dir=tmp_path / 'a', progress=False).model
    train(cfg, tokens, out_dir=tmp_path / "b", until=5, progress=False)   # stops after step 5, saved
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


def test_refusals_on_resume(tmp_path, tokens):
    cfg = get_preset('tiny', max_steps=4, ckpt_every=2)
    train(cfg, tokens, out_dir=tmp_path / 'b', until=2, progress=False)
    with pytest.raises(ValueError, match='different model'):
        train(get_preset('tiny', n_embd=64), tokens, out_dir=tmp_path / 'b', resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match='nothing to resume'):
        train(cfg, tokens, out_dir=tmp_path / 'c', resume=True, progress=False)


def test_bad_checkpoint_files(tmp_path):
    cfg = get_preset('tiny')
    save_checkpoint(tmp_path / 'ckpt.pt', model=IGPT(cfg.model).state_dict(), config=asdict(cfg), step=3)
    model, c, state = load_model(tmp_path)
    assert state["step"] == 3 and c.model.n_embd == 32
    (tmp_path / 'bad.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='not a readable igpt_minimal checkpoint'):
        load_checkpoint(tmp_path / 'bad.pt')
    with pytest.raises(FileNotFoundError, match='no checkpoint at'):
        load_checkpoint(tmp_path / 'none.pt')
    raw = (tmp_path / 'ckpt.pt').read_bytes()          # a crash mid-write without the rename: truncated
    (tmp_path / 'cut.pt').write_bytes(raw[:len(raw) // 2])
    with pytest.raises(ValueError, match='may be truncated'):
        load_checkpoint(tmp_path / 'cut.pt')
    with pytest.raises(ValueError, match='may be truncated'):       # memory-mapped, as `igpt train --resume` peeks
        load_checkpoint(tmp_path / 'cut.pt', mmap=True)
    assert load_checkpoint(tmp_path / 'ckpt.pt', mmap=True)['step'] == 3


def test_token_cache_refuses_other_presets(tmp_path):
    prepare_data(get_preset('digits'), tmp_path)
    with pytest.raises(ValueError, match=r'n_colors 16 \(wanted 8\)'):
        prepare_data(get_preset('digits', n_colors=8), tmp_path)
    with pytest.raises(ValueError, match=r"data 'digits' \(wanted 'fashion-mnist'\)"):
        prepare_data(get_preset('tiny', data='fashion-mnist'), tmp_path)
    with pytest.raises(ValueError, match='pass data_path'):
        prepare_data(get_preset('cifar10-tiny'))


def test_older_checkpoints_flat_config():
    "Before TrainConfig held an IGPTConfig, checkpoints stored the model's fields flat (the first committed Fashion run)."
    cfg = get_preset('fashion')
    flat = {k: v for k, v in asdict(cfg).items() if k != 'model'}
    flat.update(image_size=cfg.image_size, n_colors=cfg.n_colors, n_embd=cfg.model.n_embd, n_layer=cfg.model.n_layer,
                n_head=cfg.model.n_head)
    assert config_from_dict(flat) == cfg and config_from_dict(asdict(cfg)) == cfg


@pytest.mark.parametrize('over, err, msg', [
    (dict(image_size=-8), ValueError, 'TrainConfig.image_size must be >= 1, got -8'),
    (dict(image_size=0), ValueError, 'TrainConfig.image_size must be >= 1, got 0'),
    (dict(n_colors=0), ValueError, 'TrainConfig.n_colors must be >= 1, got 0'),
    (dict(model='8x8'), TypeError, 'TrainConfig.model must be an IGPTConfig, got str'),
    (dict(model=IGPTConfig(n_colors=16, n_positions=64), n_embd=64), ValueError, 'not both'),
])
def test_bad_config(over, err, msg):
    with pytest.raises(err, match=re.escape(msg)):
        get_preset('tiny', **over)


def test_config_from_flat_dict_missing_fields():
    with pytest.raises(ValueError, match='not an igpt_minimal run'):
        config_from_dict({'data': 'digits'})


def test_a_plain_trainconfig_never_claims_a_dataset(tmp_path):
    """Chapter 04's TrainConfig names no dataset: train takes it without a run directory, never with one, and
    prepare_data refuses it, so no checkpoint records the digits by default."""
    cfg = TrainConfig(model=(8, 16, 32, 2, 2), max_steps=2, batch_size=4, warmup_steps=1)
    tokens = torch.randint(0, 16, (8, 64))
    assert train(cfg, tokens, progress=False).model is not None
    with pytest.raises(TypeError, match="a run directory needs the dataset named"):
        train(cfg, tokens, out_dir=tmp_path/'run', progress=False)
    assert not (tmp_path/'run').exists()
    with pytest.raises(TypeError, match="prepare_data needs the dataset named"): prepare_data(cfg)
