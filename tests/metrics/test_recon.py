import math
import time

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganvq.metrics.recon import mean_psnr_ssim, psnr_per_image, ssim_per_image, to_unit


def _skimage_ssim(x: torch.Tensor, x_hat: torch.Tensor) -> np.ndarray:
    return np.array([
        structural_similarity(
            a.numpy().astype(np.float64), b.numpy().astype(np.float64), channel_axis=0,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
        )
        for a, b in zip(x, x_hat)
    ])


def _pairs(channels: int = 1, n: int = 6, size: tuple[int, int] = (28, 28)):
    """Random noise, smooth structure (gradients, rings, edges) and their distortions, in [0, 1]."""
    g = torch.Generator().manual_seed(channels)
    h, w = size
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    structured = torch.stack([
        (xx + 1) / 2,
        (torch.sin(8 * torch.sqrt(xx**2 + yy**2)) + 1) / 2,
        (xx > 0.1).float(),
        ((xx * 4).floor() + (yy * 4).floor()).remainder(2),
    ])  # (4, H, W)
    x = torch.cat([torch.rand(n, channels, h, w, generator=g), structured[:, None].expand(-1, channels, -1, -1)])
    noisy = (x + 0.15 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    dimmed = x * 0.7 + 0.1
    x = torch.cat([x, x, x, x])
    x_hat = torch.cat([noisy, blurred, dimmed, torch.rand(x.shape[0] // 4, channels, h, w, generator=g)])
    return x, x_hat


@pytest.mark.parametrize("channels,size", [(1, (28, 28)), (3, (28, 28)), (1, (32, 23))])
def test_ssim_matches_skimage_per_image(channels, size):
    x, x_hat = _pairs(channels, size=size)
    ours = ssim_per_image(x, x_hat).double().numpy()
    np.testing.assert_allclose(ours, _skimage_ssim(x, x_hat), atol=1e-5)


def test_ssim_in_float64_matches_skimage_to_round_off():
    x, x_hat = _pairs(1)
    np.testing.assert_allclose(ssim_per_image(x.double(), x_hat.double()).numpy(), _skimage_ssim(x, x_hat), atol=1e-12)


def test_psnr_matches_skimage_per_image():
    x, x_hat = _pairs(3)
    expected = [peak_signal_noise_ratio(a.numpy(), b.numpy(), data_range=1.0) for a, b in zip(x, x_hat)]
    np.testing.assert_allclose(psnr_per_image(x, x_hat).numpy(), expected, atol=1e-3)


def test_psnr_scales_with_data_range():
    x, x_hat = _pairs(1)
    np.testing.assert_allclose(
        psnr_per_image(x * 255, x_hat * 255, data_range=255.0).numpy(), psnr_per_image(x, x_hat).numpy(), atol=1e-3
    )


def test_identical_images_give_ssim_one_and_capped_psnr():
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(ssim_per_image(x, x), torch.ones(3), atol=1e-6)
    assert torch.equal(psnr_per_image(x, x), torch.full((3,), 100.0))


def test_to_unit_maps_and_clamps():
    assert torch.equal(to_unit(torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))


def test_mean_psnr_ssim_equals_mean_of_per_image_values():
    x, x_hat = _pairs(1)
    psnr, ssim = mean_psnr_ssim(x, x_hat, batch=7)
    assert math.isclose(psnr, float(psnr_per_image(x, x_hat).mean()), rel_tol=1e-6)
    assert math.isclose(ssim, float(ssim_per_image(x, x_hat).mean()), rel_tol=1e-5)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        psnr_per_image(torch.rand(2, 1, 28, 28), torch.rand(2, 1, 27, 28))
    with pytest.raises(ValueError, match="at least 11"):
        ssim_per_image(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8))


def test_ten_thousand_images_score_quickly():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(10_000, 1, 28, 28, generator=g)
    x_hat = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    # One thread: measures our cost, not OpenMP waiting on cores that a training job holds.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        psnr, ssim = mean_psnr_ssim(x, x_hat)
        assert time.perf_counter() - start < 3.0
    finally:
        torch.set_num_threads(threads)
    assert 15 < psnr < 25 and 0 < ssim < 1
