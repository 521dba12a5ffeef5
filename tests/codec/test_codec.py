import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganvq.codec import Codec, GvqFormatError
from ganvq.codec.format import CHUNK, MIN_FILE
from ganvq.errors import GanvqError
from ganvq.models.vqvae import VQVAE, VQVAEConfig
from ganvq.prior import PriorConfig, build_prior
from ganvq.quantize.vq import VQConfig

FIXTURES = [HealthCheck.function_scoped_fixture]


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(st.data())
def test_code_maps_round_trip_exactly(codec, data):
    n = data.draw(st.integers(1, 6))
    k = codec.codebook_size
    # arbitrary maps, including ones the prior finds very unlikely (a single repeated code, extremes)
    maps = data.draw(st.lists(st.lists(st.integers(0, k - 1), min_size=49, max_size=49), min_size=n, max_size=n))
    indices = torch.tensor(maps).view(n, 7, 7)
    each = data.draw(st.booleans())
    payloads = codec.encode_codes(indices, each=each)
    counts = [1] * n if each else [n]
    assert torch.equal(codec.decode_codes(payloads, counts), indices)


def test_images_round_trip_to_their_vqvae_reconstruction(codec, test_images):
    data = codec.compress(test_images[:5])
    images = codec.decompress(data)
    assert images.dtype == torch.uint8 and images.shape == (5, 1, 28, 28)
    assert torch.equal(images, codec.decode_images(codec.encode_images(test_images[:5])))
    files = codec.compress_each(test_images[:5])
    assert [len(f) for f in files] and all(torch.equal(a, b[None]) for a, b in zip(codec.decompress_each(files), images))


def test_decoded_pixels_do_not_depend_on_which_images_are_decoded_together(codec):
    # Decoding runs in groups whose sizes vary with memory and file counts; on some CPUs the
    # convolution kernels (and their rounding) change with the batch size, so this must not leak.
    indices = torch.randint(0, codec.codebook_size, (70, 7, 7), generator=torch.Generator().manual_seed(0))
    whole = codec.decode_images(indices)
    for k in (1, 33, 69):
        assert torch.equal(torch.cat([codec.decode_images(indices[:k]), codec.decode_images(indices[k:])]), whole)


def test_a_file_spanning_several_chunks_round_trips(codec, test_images):
    indices = torch.randint(0, codec.codebook_size, (CHUNK + 3, 7, 7), generator=torch.Generator().manual_seed(0))
    payloads = codec.encode_codes(indices)
    assert len(payloads) == 2
    assert torch.equal(codec.decode_codes(payloads, [CHUNK, 3]), indices)


def test_file_size_matches_the_ideal_code_length(codec, test_images):
    indices = codec.encode_images(test_images)
    ideal = codec.code_bits(indices)  # sum of -log2 p over each map's codes
    payload_bits = torch.tensor([8 * (len(f) - MIN_FILE) for f in codec.compress_each(test_images)])
    over = payload_bits - ideal
    # a separate stream per file: about one byte of termination each; a file can come out a few bits
    # under its ideal, since the decoder reads the dropped tail as zeros for free
    assert bool((over > -8).all()) and bool((over < 16).all()) and 0 < over.mean() < 8, over
    many = codec.compress(test_images)  # one stream: the overhead is shared
    assert 8 * len(many) - ideal.sum().item() < 8 * 16


def test_a_file_decompresses_identically_in_a_fresh_process(codec, prior_run, test_images, tmp_path):
    (tmp_path / "a.gvq").write_bytes(codec.compress(test_images[:7]))
    script = textwrap.dedent(f"""
        import numpy as np
        from ganvq.codec import Codec
        codec = Codec.from_checkpoint({str(prior_run)!r})
        data = open({str(tmp_path / 'a.gvq')!r}, 'rb').read()
        np.save({str(tmp_path / 'out.npy')!r}, codec.decompress(data).numpy())
    """)
    # the child runs with torch's default thread count, this process with one: the tables still agree
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert np.array_equal(np.load(tmp_path / "out.npy"), codec.decompress(codec.compress(test_images[:7])).numpy())
    assert np.array_equal(np.load(tmp_path / "out.npy"), codec.decompress((tmp_path / "a.gvq").read_bytes()).numpy())


def _other_codec(codebook_size: int, num_classes: int = 0, arch: str = "transformer") -> Codec:
    torch.manual_seed(1)
    vqvae = VQVAE(VQVAEConfig(hidden=32, res_blocks=1, vq=VQConfig(codebook_size=codebook_size, dim=8)))
    prior = build_prior(PriorConfig(codebook_size=codebook_size, height=7, width=7, dim=16, layers=1, heads=2,
                                    num_classes=num_classes, arch=arch))
    with torch.no_grad():  # class embeddings far apart, so the label matters
        emb = prior.tok.weight if arch == "transformer" else prior.cls
        emb.add_(torch.randn_like(emb) * (1 if arch == "transformer" else 30))
    return Codec(prior, vqvae)


@pytest.mark.parametrize("arch", ["transformer", "local"])
def test_a_class_conditional_prior_codes_the_cheapest_label(test_images, arch):
    codec = _other_codec(16, num_classes=3, arch=arch)
    indices = codec.encode_images(test_images[:6])
    bits = torch.stack([codec.code_bits(indices, torch.full((6,), c)) for c in range(3)])  # (3, 6)
    payloads = codec.encode_codes(indices, each=True)
    assert torch.equal(codec.decode_codes(payloads, [1] * 6), indices)
    # each file costs about its best label's bits plus log2(3) for the label itself
    sizes = torch.tensor([8.0 * len(p) for p in payloads])
    assert bool(((sizes - bits.min(0).values - 1.585).abs() < 12).all())
    assert torch.equal(codec.decompress(codec.compress(test_images[:6])), codec.decode_images(indices))


def test_every_damage_gives_a_clear_error(codec, test_images):
    data = codec.compress(test_images[:2])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    cases = {
        "not a .gvq file": b"\x89PNG\r\n\x1a\n" + data,
        "truncated": data[:5],
        "corrupted or truncated": data[:-3] + data[-2:],
        "corrupted": bytes(flipped),
        "version 3": data[:2] + bytes([0x30 | data[2] & 0x0F]) + data[3:],
        "another model": _other_codec(16).compress(test_images[:2]),
    }
    for message, bad in cases.items():
        with pytest.raises(GvqFormatError, match=message):
            codec.decompress(bad)


def test_images_that_do_not_fit_the_model_are_refused(codec):
    with pytest.raises(GanvqError, match="28x28 grayscale"):
        codec.compress(torch.zeros(1, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(GanvqError, match="uint8"):
        codec.compress(torch.zeros(1, 1, 28, 28))
    with pytest.raises(GanvqError, match=r"\[0, 15\]"):
        codec.encode_codes(torch.full((1, 7, 7), 16))


@settings(max_examples=1000, deadline=None, suppress_health_check=FIXTURES)
@given(st.data())
def test_the_decoder_never_crashes_on_damaged_input(codec, test_images, data):
    valid = data.draw(st.sampled_from(_fuzz_seeds(codec, test_images)))
    kind = data.draw(st.sampled_from(["random", "flip", "cut", "splice"]))
    if kind == "random":
        blob = data.draw(st.binary(max_size=200))
    elif kind == "flip":
        blob = bytearray(valid)
        for _ in range(data.draw(st.integers(1, 4))):
            blob[data.draw(st.integers(0, len(blob) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        blob = bytes(blob)
    elif kind == "cut":
        blob = valid[: data.draw(st.integers(0, len(valid) - 1))]
    else:
        blob = valid[:3] + data.draw(st.binary(max_size=60)) + valid[-2:]
    try:
        images = codec.decompress(blob)
    except GanvqError:
        return
    # only a damage that keeps the check intact (about 1 in 65,536) can decode, and then to valid images
    assert images.dtype == torch.uint8 and images.shape[1:] == (1, 28, 28)


_SEEDS = {}


def _fuzz_seeds(codec, test_images):
    if "v" not in _SEEDS:
        _SEEDS["v"] = [codec.compress(test_images[:1]), codec.compress(test_images[:3])]
    return _SEEDS["v"]


def test_a_residual_vqvae_trains_a_prior_over_both_levels_and_its_files_round_trip(test_images, tmp_path):
    from ganvq.runs import PriorRunConfig, TrainConfig, VQVAERunConfig
    from ganvq.train.prior import train_prior
    from ganvq.train.vqvae import train_vqvae

    model = VQVAEConfig(hidden=32, res_blocks=1, vq=VQConfig(codebook_size=16, dim=8, levels=2))
    train = TrainConfig(steps=3, batch_size=16, precision="fp32", ckpt_every=100, eval_images=0)
    train_vqvae(VQVAERunConfig(model=model, train=train, limit=128), tmp_path / "v", quiet=True)
    train_prior(PriorRunConfig(vqvae=str(tmp_path / "v"), model=PriorConfig(dim=16, layers=1, heads=2), train=train,
                               limit=128), tmp_path / "p", quiet=True)
    codec = Codec.from_checkpoint(tmp_path / "p")
    assert codec.prior_shape == (7, 14)  # both levels of each position, side by side
    images = test_images[:5]
    indices = codec.encode_images(images)
    files = codec.compress_each(images)
    assert torch.equal(torch.cat(codec.decompress_each(files)), codec.decode_images(indices))
    assert torch.equal(codec.decompress(codec.compress(images)), codec.decode_images(indices))

