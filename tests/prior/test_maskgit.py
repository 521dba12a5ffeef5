"""The bidirectional MaskGIT prior: masked positions only are redrawn, draws are seeded, bad masks are one line."""

import pytest
import torch

from ganvq.cli import main
from ganvq.commands.restore import restore_images
from ganvq.data import load_dataset
from ganvq.data.corrupt import make_mask, parse_mask
from ganvq.errors import GanvqError
from ganvq.images import to_float
from ganvq.prior import MaskGITPrior, PriorConfig
from ganvq.prior.inpaint import inpaint_codes
from ganvq.prior.maskgit import training_mask
from ganvq.runs import load_prior, read_metrics


@pytest.fixture(scope="module")
def maskgit_run(tmp_path_factory, tiny_vqvae_run):
    """A tiny MaskGIT prior trained for 10 steps through the CLI (`train prior --arch maskgit`)."""
    out = tmp_path_factory.mktemp("maskgit")
    assert main(["train", "prior", "--arch", "maskgit", "--vqvae", str(tiny_vqvae_run), "--dim", "32", "--layers",
                 "2", "--heads", "2", "--steps", "10", "--batch-size", "32", "--lr", "3e-3", "--limit", "256",
                 "--precision", "fp32", "--threads", "1", "--log-every", "5", "-o", str(out), "--quiet"]) == 0
    return out


def _random_prior() -> MaskGITPrior:
    torch.manual_seed(0)
    return MaskGITPrior(PriorConfig(codebook_size=6, height=5, width=4, dim=16, layers=2, heads=2,
                                    arch="maskgit")).eval()


def test_training_masks_hide_something_and_odd_rows_are_boxes():
    m = training_mask(64, 5, 7, torch.Generator().manual_seed(0))
    assert m.shape == (64, 5, 7) and bool((m.flatten(1).sum(1) >= 1).all())
    for box in m[1::2]:
        rows, cols = box.nonzero(as_tuple=True)
        assert int(box.sum()) == (int(rows.max() - rows.min()) + 1) * (int(cols.max() - cols.min()) + 1)
    assert torch.equal(m, training_mask(64, 5, 7, torch.Generator().manual_seed(0)))


def test_only_masked_codes_are_redrawn_and_seeds_reproduce():
    prior = _random_prior()
    codes = torch.randint(0, 6, (8, 5, 4), generator=torch.Generator().manual_seed(1))
    where = torch.zeros(8, 5, 4, dtype=torch.bool)
    where[:, 1:4, 1:3] = True
    where[0] = False  # a map with nothing to redraw stays as it is
    where[1] = True  # and one with everything
    a, score = prior.complete(codes, where, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[~where], codes[~where])
    assert score.shape == (8,) and float(score[0]) == 0 and bool((score[1:] < 0).all())
    b, _ = prior.complete(codes, where, generator=torch.Generator().manual_seed(5))
    c, _ = prior.complete(codes, where, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    many = inpaint_codes(prior, codes, where, samples=3, candidates=2, generator=torch.Generator().manual_seed(2))
    assert many.shape == (8, 3, 5, 4)
    assert torch.equal(many[~where[:, None].expand_as(many)], codes[:, None].expand_as(many)[~where[:, None]
                                                                                           .expand_as(many)])
    assert not torch.equal(many[:, 0], many[:, 1])


def test_bad_code_masks_and_sweeps_are_one_line_errors():
    prior = _random_prior()
    codes = torch.zeros(2, 5, 4, dtype=torch.int64)
    with pytest.raises(GanvqError, match="5x4 code maps"):
        prior.complete(codes, torch.ones(2, 4, 5, dtype=torch.bool))
    with pytest.raises(GanvqError, match="at least one round"):
        prior.complete(codes, torch.ones_like(codes, dtype=torch.bool), steps=0)
    with pytest.raises(GanvqError, match="local prior"):
        inpaint_codes(prior, codes, torch.ones_like(codes, dtype=torch.bool), sweeps=1)


def test_held_out_loss_is_deterministic_and_no_codec():
    prior = _random_prior()
    codes = torch.randint(0, 6, (16, 5, 4), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert float(prior.nll(codes)) == float(prior.nll(codes))
    assert not PriorConfig(arch="maskgit").exact  # not autoregressive: the codec refuses it


def test_trained_run_restores_holes_keeping_visible_pixels(maskgit_run):
    prior, model, config = load_prior(maskgit_run)
    assert isinstance(prior, MaskGITPrior) and config.model.arch == "maskgit"
    assert any("val/bits_per_code" in r for r in read_metrics(maskgit_run))
    x = to_float(load_dataset("fashion-mnist", "test", limit=4).images)
    hole = make_mask(parse_mask("center"), len(x), 28, 28)
    out = restore_images(model, x, hole, prior, samples=2, candidates=2, seed=1)
    visible = ~hole[:, None].expand_as(out)
    assert torch.equal(out[visible], x[:, None].expand_as(out)[visible])
    assert torch.equal(out, restore_images(model, x, hole, prior, samples=2, candidates=2, seed=1))
    assert not torch.equal(out[:, 0], out[:, 1])
    assert prior.sample(3, generator=torch.Generator().manual_seed(0)).shape == (3, 7, 7)


@pytest.mark.parametrize("mask, message", [("box:0,0,28,28", "every pixel"), ("box:30,0,2,2", "outside")])
def test_bad_mask_through_the_cli_is_one_line(tmp_path, capsys, maskgit_run, mask, message):
    assert main(["restore", "fashion-mnist", "--limit", "2", "-o", str(tmp_path / "o"), "--ckpt", str(maskgit_run),
                 "--mask", mask, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("ganvq: error:") and message in err
