import pytest

from ganvq.cli import build_parser, build_vqvae_config
from ganvq.config import from_dict, to_dict
from ganvq.errors import GanvqError
from ganvq.runs import VQVAE_PRESETS, TrainConfig, VQVAERunConfig, preset


@pytest.mark.parametrize("name", sorted(VQVAE_PRESETS))
def test_every_preset_round_trips_through_json(name):
    config = VQVAERunConfig(model=preset(name))
    assert from_dict(VQVAERunConfig, to_dict(config)) == config


def test_unknown_options_and_presets_are_clear_errors():
    with pytest.raises(GanvqError, match="unknown config option .model.vq.betta.; VQConfig has"):
        from_dict(VQVAERunConfig, {"model": {"vq": {"betta": 0.3}}})
    with pytest.raises(GanvqError, match="unknown preset"):
        preset("nope")
    with pytest.raises(GanvqError, match="training length"):
        TrainConfig(steps=None, minutes=None)


def _args(*argv):
    return build_parser().parse_args(["train", "vqvae", "--out", "x", *argv])


def test_config_file_overrides_the_preset_and_flags_override_the_file(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  vq:\n    beta: 0.5\n    cosine: true\ntrain:\n  lr: 0.0005\n  steps: 100\n")
    config = build_vqvae_config(_args("--preset", "fmnist-14x14", "--config", str(cfg), "--steps", "7"))
    assert config.model.downsamples == 1  # from the preset
    assert config.model.vq.beta == 0.5 and config.model.vq.cosine  # from the file
    assert config.train.lr == 0.0005 and config.train.steps == 7  # the flag wins over the file


def test_bad_config_file_is_a_clear_error(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: [unclosed\n")
    with pytest.raises(GanvqError, match="not valid YAML"):
        build_vqvae_config(_args("--config", str(cfg)))


def test_gan_diffaugment_flags_reach_the_config():
    from ganvq.cli import build_gan_config

    args = build_parser().parse_args(["train", "gan", "--out", "x", "--preset", "fmnist-best",
                                      "--diffaugment", "translation", "--diffaugment-shift", "0.25",
                                      "--diffaugment-fill", "edge", "--diffaugment-target", "0.6",
                                      "--real-shift", "0.0625", "--consistency", "10"])
    gan = build_gan_config(args).gan
    assert (gan.diffaugment, gan.diffaugment_shift, gan.diffaugment_fill) == ("translation", 0.25, "edge")
    assert gan.diffaugment_target == 0.6 and gan.real_shift == 0.0625 and gan.consistency_weight == 10.0
    few = build_gan_config(build_parser().parse_args(["train", "gan", "--out", "x", "--preset", "fmnist-few"]))
    assert few.model.g_width == few.model.d_width == 16 and few.gan.diffaugment == ""
    with pytest.raises(SystemExit):  # argparse refuses an unknown fill with its usage line
        build_parser().parse_args(["train", "gan", "--out", "x", "--diffaugment-fill", "mirror"])


def test_an_adaptive_diffaugment_target_must_lie_in_0_1_and_needs_transforms():
    from ganvq.runs import GANOptions

    assert GANOptions(diffaugment="translation", diffaugment_target=0.6).diffaugment_target == 0.6
    with pytest.raises(GanvqError, match=r"\[0, 1\)"):
        GANOptions(diffaugment="translation", diffaugment_target=1.0)
    with pytest.raises(GanvqError, match="--diffaugment"):
        GANOptions(diffaugment="", diffaugment_target=0.6)


def test_config_values_are_checked_by_type_with_the_option_named():
    with pytest.raises(GanvqError, match=r"config option 'model.hidden' must be int, got 'abc'"):
        from_dict(VQVAERunConfig, {"model": {"hidden": "abc"}})
    with pytest.raises(GanvqError, match=r"config option 'train.steps' must be int \| None, got 2.5"):
        from_dict(VQVAERunConfig, {"train": {"steps": 2.5}})
    with pytest.raises(GanvqError, match="VQConfig has .*codebook_size"):
        from_dict(VQVAERunConfig, {"model": {"vq": {"codebook": 8}}})
    # JSON and YAML write 1.0 as 1, and have lists, not tuples
    config = from_dict(VQVAERunConfig, {"train": {"lr": 1}, "model": {"quantizer": "fsq", "fsq": {"levels": [8, 5]}}})
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float) and config.model.fsq.levels == (8, 5)
    with pytest.raises(GanvqError, match="must be bool"):
        from_dict(VQVAERunConfig, {"model": {"vq": {"cosine": 1}}})


def test_a_layer_with_minutes_and_no_steps_trains_for_that_time(tmp_path):
    from ganvq.runs import build_run_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  minutes: 2\n")
    assert build_run_config("vqvae", config_file=str(cfg)).train.steps is None
    both = build_run_config("gan", overrides={"train": {"minutes": 2, "steps": 10}}).train
    assert (both.steps, both.minutes) == (10, 2.0)
    assert build_run_config("gan", "fmnist-few").train.steps == 5000


def test_a_local_prior_gets_its_own_size_unless_one_is_given(tmp_path):
    from ganvq.prior.config import LOCAL_DEFAULTS
    from ganvq.runs import build_run_config

    local = build_run_config("prior", overrides={"vqvae": "v", "model": {"arch": "local"}}).model
    assert (local.dim, local.layers) == (LOCAL_DEFAULTS["dim"], LOCAL_DEFAULTS["layers"])
    sized = build_run_config("prior", overrides={"vqvae": "v", "model": {"arch": "local", "dim": 64}}).model
    assert (sized.dim, sized.layers) == (64, LOCAL_DEFAULTS["layers"])
    assert build_run_config("prior", overrides={"vqvae": "v"}).model.dim == 128  # the transformer's default
    with pytest.raises(GanvqError, match="--vqvae"):
        build_run_config("prior")


@pytest.mark.parametrize("argv, message", [
    (["--dim", "264", "--heads", "8"], "at most 256 wide"),
    (["--arch", "local", "--dim", "640"], "at most 512 wide"),
])
def test_a_prior_the_codec_could_not_run_is_refused_before_training(tmp_path, tiny_vqvae_run, argv, message, capsys):
    from ganvq.cli import main

    out = tmp_path / "p"
    assert main(["train", "prior", "--vqvae", str(tiny_vqvae_run), "--out", str(out), "--steps", "2", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_prior_over_more_codes_than_the_codec_codes_is_refused():
    from ganvq.prior import PriorConfig

    with pytest.raises(GanvqError, match="at most 2048 codes"):
        PriorConfig(codebook_size=4096)
    assert PriorConfig(codebook_size=2048, dim=256).dim == 256


def test_exponent_floats_without_a_dot_are_numbers(tmp_path):
    from ganvq.config import load_config_file

    (tmp_path / "c.yaml").write_text("train:\n  lr: 2e-3\n  other: 1E5\n  name: e5\n")
    (tmp_path / "c.json").write_text('{"train": {"lr": 2e-3}}')
    assert load_config_file(tmp_path / "c.yaml")["train"] == {"lr": 0.002, "other": 100000.0, "name": "e5"}
    assert load_config_file(tmp_path / "c.json")["train"]["lr"] == 0.002
