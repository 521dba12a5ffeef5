import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.prior import PriorConfig, build_prior, exact_prior
from ganvq.prior.exact import LOGIT_BITS
from ganvq.prior.exact_local import ExactLocalPrior
from ganvq.prior.local import NEIGHBORS, neighbor_index, waves


def _local(num_classes: int = 0, trained: bool = True, arch: str = "local", **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = PriorConfig(arch=arch, codebook_size=16, height=5, width=6, dim=24, heads=2,
                      num_classes=num_classes, **{"layers": 2, **kw})
    model = build_prior(cfg)
    if trained:  # a few steps on random maps: weights away from their init and act_max learned
        opt = torch.optim.Adam(model.parameters(), 1e-2)
        for _ in range(30):
            codes = torch.randint(0, 16, (8, 5, 6))
            labels = torch.randint(0, num_classes, (8,)) if num_classes else None
            loss = model.nll(codes, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def test_every_neighbour_lies_on_an_earlier_wave():
    assert all(2 * dr + dc < 0 for dr, dc in NEIGHBORS)
    h, w = 5, 6
    wave_of = torch.empty(h * w, dtype=torch.int64)
    for s, positions in enumerate(waves(h, w)):
        wave_of[positions] = s
    assert sorted(torch.cat(waves(h, w)).tolist()) == list(range(h * w))  # each position exactly once
    index = neighbor_index(h, w, NEIGHBORS)
    inside = index < h * w
    assert bool((wave_of[index.clamp(max=h * w - 1)] < wave_of[:, None])[inside].all())


def test_a_code_only_sees_its_neighbours():
    model = _local()
    codes = torch.randint(0, 16, (1, 5, 6))
    base = model(codes)
    index = neighbor_index(5, 6, model.offsets)
    for t in (0, 7, 29):
        changed = codes.clone().view(-1)
        others = [p for p in range(30) if p not in index[t].tolist()]
        changed[others] = (changed[others] + 1) % 16
        assert torch.allclose(model(changed.view(1, 5, 6))[0, t], base[0, t])


def test_exact_logits_track_the_float_model():
    model = _local()
    codes = torch.randint(0, 16, (6, 5, 6))
    exact = ExactLocalPrior(model).logits(codes) / 2**LOGIT_BITS
    # 8-bit activations on the learned range, int8 weights, logits rounded to 1/256 nat
    err = (exact - model(codes)).abs()
    assert err.mean() < 0.05 and err.max() < 0.3, (err.mean(), err.max())


def test_wave_by_wave_decoding_equals_the_full_pass_bit_for_bit():
    model = _local(num_classes=3)
    exact = exact_prior(model)
    assert isinstance(exact, ExactLocalPrior)
    codes = torch.randint(0, 16, (5, 5, 6))
    labels = torch.tensor([0, 1, 2, 0, 1])
    full = exact.logits(codes, labels)
    state = exact.start(5, labels)
    for positions in exact.waves:
        assert torch.equal(exact.step_logits(state), full[:, positions])
        exact.advance(state, codes.view(5, -1)[:, positions])


@pytest.mark.parametrize("arch", ["transformer", "local"])  # both exact priors (prior/exact.py, exact_local.py)
def test_exact_logits_do_not_depend_on_the_batch_or_thread_count(arch):
    exact = exact_prior(_local(arch=arch))
    codes = torch.randint(0, 16, (9, 5, 6))
    together = exact.logits(codes)
    alone = torch.cat([exact.logits(codes[i : i + 1]) for i in range(9)])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two_threads = exact.logits(codes[2:7])
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(together, alone) and torch.equal(together[2:7], two_threads)


def test_sampling_is_reproducible_and_conditional_samples_follow_their_class():
    model = _local(num_classes=2, trained=False)
    with torch.no_grad():  # class 1 makes code 3 certain, class 0 code 5
        model.cls.zero_()
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.tables.zero_()
        model.pos.zero_()
        model.mid[0].weight.copy_(torch.eye(24))
        model.mid[0].bias.zero_()
        model.cls[1, 0], model.cls[0, 1] = 10.0, 10.0
        model.head.weight[3, 0], model.head.weight[5, 1] = 10.0, 10.0
    labels = torch.tensor([1, 0, 1])
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    a = model.sample(3, labels, generator=g())
    assert a.shape == (3, 5, 6) and torch.equal(a, model.sample(3, labels, generator=g()))
    assert bool((a[0] == 3).all()) and bool((a[1] == 5).all())
    with pytest.raises(GanvqError, match="class-conditional"):
        model.sample(2)
    with pytest.raises(GanvqError, match="temperature"):
        model.sample(2, torch.tensor([0, 1]), temperature=0)


def test_bad_local_configs_are_refused():
    with pytest.raises(GanvqError, match="neighbours"):
        build_prior(PriorConfig(arch="local", neighbors=len(NEIGHBORS) + 1))
    with pytest.raises(GanvqError, match="arch"):
        PriorConfig(arch="pixelcnn")
    with pytest.raises(GanvqError, match="512 wide"):
        PriorConfig(arch="local", dim=640)


def test_numpy_frequencies_equal_torch_frequencies_bit_for_bit():
    from ganvq.prior.exact import frequencies, frequencies_np

    g = torch.Generator().manual_seed(0)
    for k in (2, 16, 64, 512):
        for scale in (3.0, 300.0, 3e4, 8e6):  # gaps inside and beyond the exp table
            logits = (torch.randn(33, k, generator=g) * scale).round().clamp(-(2.0**23), 2.0**23)
            logits[:5, 1] = logits[:5, 0]  # ties for the maximum
            assert torch.equal(torch.from_numpy(frequencies_np(logits.numpy())).long(), frequencies(logits).long())


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("layers,num_classes", [(1, 0), (2, 3), (3, 0)])
def test_one_map_decoding_sees_the_full_pass_probabilities(compiled, layers, num_classes, monkeypatch):
    """decode_one (numba kernel, or numpy) hands the coder exactly the frequencies of the teacher-forced pass."""
    from ganvq.prior import local_kernel
    from ganvq.prior.exact import frequencies

    if compiled:
        assert local_kernel.available(), "numba and scipy are installed by the dev and db extras"
    else:
        monkeypatch.setattr(local_kernel, "available", lambda: False)
    model = _local(num_classes=num_classes, layers=layers)
    exact = ExactLocalPrior(model)
    codes = torch.randint(0, 16, (3, 5, 6))
    for i in range(3):
        label = i % max(num_classes, 1)
        want = frequencies(exact.logits(codes[i : i + 1], torch.tensor([label]) if num_classes else None))[0].double()
        seen = []

        def decode(probs, i=i):
            positions = exact.waves[len(seen)]
            seen.append(torch.from_numpy(probs) * 2**24)
            return codes[i].view(-1)[positions].numpy()

        got = exact.decode_one(decode, label)
        assert torch.equal(torch.from_numpy(got), codes[i].view(-1))
        assert torch.equal(torch.cat(seen), want[torch.cat(exact.waves)])
