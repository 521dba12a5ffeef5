"""Code-space inpainting: visible codes kept, the Gibbs conditional exact, completions seeded."""

import torch

from ganvq.prior import LocalPrior, PriorConfig
from ganvq.prior.inpaint import code_hole, dependents, full_conditional, inpaint_codes, log_likelihood
from ganvq.runs import load_prior


def _random_local_prior() -> LocalPrior:
    torch.manual_seed(0)
    prior = LocalPrior(PriorConfig(codebook_size=5, height=4, width=5, dim=8, layers=2, arch="local")).eval()
    with torch.no_grad():
        for p in prior.parameters():
            p.normal_(0, 0.5)
    return prior


def test_full_conditional_equals_brute_force_over_the_whole_map():
    prior = _random_local_prior()
    codes = torch.randint(0, 5, (3, 20), generator=torch.Generator().manual_seed(1))
    dep = dependents(prior)
    for wave in prior._waves[2:7]:
        got = full_conditional(prior, codes, wave, dep).log_softmax(-1)  # (B, len(wave), K)
        for i, t in enumerate(wave.tolist()):
            ll = []
            for v in range(5):
                c = codes.clone()
                c[:, t] = v
                ll.append(log_likelihood(prior, c.view(3, 4, 5)))
            assert torch.allclose(got[:, i], torch.stack(ll, 1).log_softmax(-1), atol=1e-4)


def test_code_hole_covers_every_patch_with_a_hidden_pixel():
    hole = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    hole[0, 0, 3, 4] = True  # in code (1, 2) of a 4x4 map of 2x2 patches
    assert code_hole(hole, 2, margin=0)[0].nonzero().tolist() == [[1, 2]]
    assert int(code_hole(hole, 2, margin=1)[0].sum()) == 9


def test_only_hole_codes_change_and_seeds_reproduce(tiny_local_prior_run, tiny_prior_run):
    for run in (tiny_local_prior_run, tiny_prior_run):
        prior, _, _ = load_prior(run)
        h, w = prior.config.height, prior.config.width
        indices = torch.randint(0, prior.config.codebook_size, (3, h, w), generator=torch.Generator().manual_seed(0))
        where = torch.zeros(3, h, w, dtype=torch.bool)
        where[:, 2:5, 1:4] = True
        sweeps = 1 if isinstance(prior, LocalPrior) else 0

        def draw(seed):
            return inpaint_codes(prior, indices, where, samples=3, candidates=2, sweeps=sweeps,
                                 generator=torch.Generator().manual_seed(seed))

        a = draw(5)
        assert a.shape == (3, 3, h, w)
        assert torch.equal(a[:, :, ~where[0]], indices[:, None].expand(-1, 3, -1, -1)[:, :, ~where[0]])
        assert torch.equal(a, draw(5)) and not torch.equal(a, draw(6))
        assert not torch.equal(a[:, 0], a[:, 1])  # the samples of one image differ
