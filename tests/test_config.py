import pytest

from ganvq.cli import build_parser, build_vqvae_config
from ganvq.config import VQVAE_PRESETS, TrainConfig, VQVAERunConfig, from_dict, preset, to_dict
from ganvq.errors import GanvqError


@pytest.mark.parametrize("name", sorted(VQVAE_PRESETS))
def test_every_preset_round_trips_through_json(name):
    config = VQVAERunConfig(model=preset(name))
    assert from_dict(VQVAERunConfig, to_dict(config)) == config


def test_unknown_options_and_presets_are_clear_errors():
    with pytest.raises(GanvqError, match="unknown VQConfig option"):
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
                                      "--diffaugment-fill", "edge", "--diffaugment-target", "0.6"])
    gan = build_gan_config(args).gan
    assert (gan.diffaugment, gan.diffaugment_shift, gan.diffaugment_fill) == ("translation", 0.25, "edge")
    assert gan.diffaugment_target == 0.6
    few = build_gan_config(build_parser().parse_args(["train", "gan", "--out", "x", "--preset", "fmnist-few"]))
    assert few.model.g_width == few.model.d_width == 16 and few.gan.diffaugment == ""
    with pytest.raises(SystemExit):  # argparse refuses an unknown fill with its usage line
        build_parser().parse_args(["train", "gan", "--out", "x", "--diffaugment-fill", "mirror"])


def test_an_adaptive_diffaugment_target_must_lie_in_0_1_and_needs_transforms():
    from ganvq.config import GANOptions

    assert GANOptions(diffaugment="translation", diffaugment_target=0.6).diffaugment_target == 0.6
    with pytest.raises(GanvqError, match=r"\[0, 1\)"):
        GANOptions(diffaugment="translation", diffaugment_target=1.0)
    with pytest.raises(GanvqError, match="--diffaugment"):
        GANOptions(diffaugment="", diffaugment_target=0.6)
