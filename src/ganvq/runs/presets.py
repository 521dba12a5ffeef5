"""Named presets, and the one function that layers a preset, a config file and command-line options."""

from __future__ import annotations

from dataclasses import replace

from ganvq.config import drop_none, layered, load_config_file, to_dict
from ganvq.errors import GanvqError
from ganvq.models.gan import GANConfig
from ganvq.models.vqvae import VQVAEConfig
from ganvq.prior.config import LOCAL_DEFAULTS
from ganvq.quantize.fsq import FSQConfig
from ganvq.quantize.vq import VQConfig
from ganvq.runs.configs import (
    RUN_CONFIGS,
    GANOptions,
    GANRunConfig,
    PriorRunConfig,
    TrainConfig,
    VQVAERunConfig,
    gan_train,
)
from ganvq.runs.vqgan import VQGANOptions


def _vq7(**kw) -> VQVAEConfig:
    return VQVAEConfig(downsamples=2, vq=VQConfig(**kw))


def _rgb(image_size: int, hidden: int, stem: bool = True) -> VQVAEConfig:
    # 64 px: vector-quantize-pytorch's recommended quantizer settings (EMA 0.8, commitment 1, restarts below 2 hits)
    vq = VQConfig(decay=0.8, beta=1.0, dead_threshold=2.0) if image_size >= 64 else VQConfig(decay=0.9)
    return VQVAEConfig(image_size=image_size, channels=3, hidden=hidden, downsamples=2, vq=vq, stem=stem)


# Steps the RGB recipes need before their output means anything, from the learning curves of
# benchmarks/bench_own_data.py (results/own_data.json); fewer make `train` warn at start.
RGB_LEARN_STEPS = {"vqvae": 300, "gan": 1000}


# Named presets: the modern defaults, and the recipes they are compared with.
VQVAE_PRESETS: dict[str, VQVAEConfig] = {
    # 7x7 latents, 512 codes: 49 * 9 bits = 0.5625 bits per pixel before entropy coding.
    "fmnist-7x7": _vq7(),
    # 7x7 latents, 2 residual levels of 512 codes: 1.125 bits per pixel raw, for higher rates.
    "fmnist-7x7-rq2": _vq7(levels=2),
    # 14x14 latents, 512 codes: 2.25 bits per pixel raw.
    "fmnist-14x14": VQVAEConfig(downsamples=1, vq=VQConfig()),
    # 14x14 latents, 64 codes, half the width: 1.5 bits per pixel raw; the low-rate 14x14 codec point.
    "fmnist-14x14-k64": VQVAEConfig(downsamples=1, hidden=64, vq=VQConfig(codebook_size=64)),
    # van den Oord et al.'s recipe without the fixes: random codes, codebook loss, no restarts.
    "plain-7x7": _vq7(update="loss", kmeans_init=False, restart_dead=False),
    "plain-14x14": VQVAEConfig(
        downsamples=1, vq=VQConfig(update="loss", kmeans_init=False, restart_dead=False)
    ),
    # The article's two-phase recipe: k-means "vector training" alternating with model training.
    "two-phase-7x7": _vq7(update="kmeans", restart_dead=False),
    # Cosine codes in a low-dimensional projected codebook (Yu et al. 2022).
    "cosine-7x7": _vq7(cosine=True, codebook_dim=16),
    # Finite Scalar Quantization, 8*8*8 = 512 codes (Mentzer et al. 2023).
    "fsq-7x7": VQVAEConfig(downsamples=2, quantizer="fsq", fsq=FSQConfig(levels=(8, 8, 8))),
    # RGB photos on a 2-core CPU: half the width, 8x8 (32 px) or 16x16 (64 px) latents of 512 codes, and a fast
    # EMA, so that in the few hundred steps a CPU affords dead codes are restarted within a few steps (with 0.99, a
    # 32 px run fell to 5 codes by step 38). At 64 px, vector-quantize-pytorch's quantizer settings with Adam at a
    # constant 1e-3 gained about 1 dB on the held-out crops at equal steps over the 32 px recipe (EMA 0.9,
    # commitment 0.25, cosine from 2e-3), most of it from the learning rate (2e-3 and 5e-4 both lost) and the
    # constant schedule (benchmarks/bench_rgb_recipe.py, results/rgb_recipe.json; rgb_recipe_32.json for 32 px).
    "rgb-32": _rgb(32, hidden=64),
    # At 64 px without the full-resolution stem: 2x faster per step in fp32 (0.36 s against 0.72 on 1 thread of a CPU
    # without native bf16), where with it `rgb-64` lost 1.59 dB to the peer in 5 minutes (own_data_64_stem.json) and
    # without it leads by 0.64 dB (own_data.json, 3 seeds each).
    "rgb-64": _rgb(64, hidden=64, stem=False),
    # The same grids at the full width, for a GPU (or a long CPU run).
    "rgb-32-large": _rgb(32, hidden=128),
    "rgb-64-large": _rgb(64, hidden=128),
}

# Training options that come with a VQ-VAE preset (the others train with TrainConfig's defaults).
VQVAE_TRAIN: dict[str, TrainConfig] = {
    "rgb-32": TrainConfig(batch_size=64, lr=2e-3, learn_steps=RGB_LEARN_STEPS["vqvae"]),
    "rgb-64": TrainConfig(batch_size=32, lr=1e-3, lr_schedule="constant", learn_steps=RGB_LEARN_STEPS["vqvae"]),
    "rgb-32-large": TrainConfig(batch_size=128, lr=1e-3, learn_steps=RGB_LEARN_STEPS["vqvae"]),
    "rgb-64-large": TrainConfig(batch_size=128, lr=1e-3, lr_schedule="constant", learn_steps=RGB_LEARN_STEPS["vqvae"]),
}


# VQGAN options per VQ-VAE preset (`train vqgan --preset NAME` takes that preset's model and training, and these);
# other presets get VQGANOptions(). First tuned on Fashion-MNIST at 3-minute, 1-thread budgets on a CPU without AMX
# (a few hundred steps; benchmarks/bench_vqgan.py, results/vqgan.json): the CNN perceptual term on 16 images of each
# batch at weight 0.15, and a discriminator weighted 0.1 from step 150 (0.5 from step 100 lost codes), whose
# adaptive weight then fell to ~0.005 within ~150 steps. On a CPU with AMX (about 1,900 steps in 5 minutes at 7x7)
# the discriminator did not help (from step 300 it raised the FID from 1.00 to about 1.45) and the perceptual term
# alone did better at weight 0.03, best from the first step: 7x7 FID ratio 0.385-0.496 against the VQ-VAE on 8
# seeds, within 1 dB on 6 (results/vqgan-p0-seed*.json, vqgan-perceptual*.json, vqgan-sweep.json), on the CNN the
# term matches; on Inception-v3 the ratio is 0.948 over 4 of those seeds (results/vqgan-extractors.json,
# vqgan-p0-seed6.json, -seed7.json), so the gain is the term fitting its scorer's features. So at 7x7 the
# perceptual term starts at once at 0.03 and the discriminator joins at step 2,000, beyond those runs (taming-
# transformers also starts it late). Where it joins, it has not helped: in 15-minute runs (about 4,300 steps) the bar
# held on 2 seeds of 4 (results/vqgan-d15-seed*.json), and against the same run without it at 4,400 steps it gave
# Inception FID ratios 1.111 and 0.981, CNN 1.317 and 0.959 (results/vqgan-s4400*.json). At 14x14 (about 700
# steps in 5 minutes on that CPU) the first tuning lost to the plain VQ-VAE on both counts (FID ratio 1.49, 3.5 dB
# lower; results/vqgan-14x14-amx.json), as did the term from step 0 at 0.03 (1.64, 2.5 dB); at 0.01 from step 0 it
# gave a mean ratio of 0.832 over 5 seeds (0.601-1.184) at a mean 0.59 dB lower (results/vqgan-p14-seed*.json):
# better than the first tuning, a lower FID than the VQ-VAE on 4 seeds of 5, never half of it (on Inception-v3:
# 1.004 over 10 pairs). At 40 minutes (about 2,300-3,000 steps, so that the discriminator joins) 0.01 gave 0.771
# (0.52 dB lower; results/vqgan-p14-40min-parallel-seed0.json) and 0.02 gave 0.548 and 0.461 on seeds 0 and 1 (0.59
# and 0.39 dB lower; the bar met on seed 1; vqgan-p14-40min-pw002-seed*.json), 0.03 0.961 at 1.66 dB lower (seed 1),
# and at 5 minutes 0.02 gave 0.74 against 0.01's 0.83 (one seed against five; results/vqgan-sweep.json): so 0.02.
# On Inception-v3 those 0.02 pairs score 0.972 and 0.925 (0.01: 1.004; results/vqgan-extractors-40min.json).
# On seed 2, 0.02 gave 1.456 (1.75 dB lower): a loss spike at step ~1,410, before the discriminator, took the
# training PSNR from 30.4 to 20.6 dB and left 175 codes dead; 0.03's seed-1 run had spiked at ~1,060 too, and no
# VQ-VAE run did (2 of 8 VQGAN runs at 40 minutes, 0 of 6 VQ-VAE). With clip_spikes 3 (11 and 17 steps of about
# 2,600 clipped) seed 2 gave 0.667 (0.90 dB lower; its one spike, at step ~860, cost 2 dB for 50 steps and no codes)
# and seed 1 0.549 (0.50 dB; 0.461 unclipped), neither meeting the bar (results/vqgan-p14-40min-clip3-seed*.json):
# a worse best case, a far better worst one, so clip_spikes 3. Under the guard 0.03 did not spike, and gave 0.529 and
# 0.578 at 0.92 and 1.14 dB lower (seeds 1 and 2, against faster-trained VQ-VAEs; vqgan-p14-40min-pw003-clip3-*):
# no clear gain over 0.02 at a larger PSNR cost, so 0.02 stays. On a quieter machine (about 3,500-3,900 steps a
# model) the preset gave 0.467 and 0.716 at 0.48 and 0.88 dB lower (seeds 1 and 2; met on seed 1), and 0.935 and
# 1.205 of the FID of the same VQGAN without its discriminator, whose hinge loss stays near 2 (chance): no gain from D
# is shown at 40 minutes (vqgan-p14-40min-preset[nod]-seed*.json), nor from one without spectral norm. Seeds 3 and 4
# gave 0.494 and 0.583 at 0.72 and 0.63 dB lower, the two models trained at once (vqgan-p14-40min-presettog-seed*.json):
# the bar met on 2 of the preset's 5 pairs. On Inception-v3 seeds 1-4 score 0.983, 1.128, 0.995, 0.983 of the FID.
# A D from step 1,000 at 4e-3 (4x the rate) stays near chance too, and gave 0.478 and 0.554 on seeds 1 and 3 against
# the preset's 0.467 and 0.494 (vqgan-p14-40min-d1000-lrd4e3-seed*.json): the preset keeps 2,000 and the VQ-VAE's rate.
# In 60 minutes seed 2 (0.716 at 40) gave 0.466 at 0.85 dB lower, 1.101 on Inception-v3 (vqgan-p14-60min-*-seed2.json).
_VQGAN_FIRST = VQGANOptions(disc_start=60, d_width=32, perceptual_weight=0.15, perceptual_images=16)
VQGAN_PRESETS: dict[str, VQGANOptions] = {
    "fmnist-7x7": VQGANOptions(disc_start=2000, d_width=32, perceptual_weight=0.03, perceptual_images=16),
    "fmnist-14x14": VQGANOptions(disc_start=2000, d_width=32, perceptual_weight=0.02, perceptual_images=16,
                                 clip_spikes=3.0),
    # the low-rate codec point's model: the first 14x14 tuning, with which bench_codec measured its VQGAN points
    "fmnist-14x14-k64": _VQGAN_FIRST,
}


def preset(name: str) -> VQVAEConfig:
    """The model config of a named preset, or a GanvqError listing the names."""
    try:
        return VQVAE_PRESETS[name]
    except KeyError:
        raise GanvqError(f"unknown preset {name!r}; choose from {', '.join(sorted(VQVAE_PRESETS))}") from None


# ganvq's Fashion-MNIST recipe: class-conditional DCGAN-shaped G (one-hot label with z, and
# conditional BN), spectrally normalised projection D, hinge loss, TTUR, EMA of G, precision auto,
# batch 64 (more, cheaper steps per minute than 128). A constant learning rate: the EMA does the
# averaging that a decay would, without slowing learning (1-minute trials: FID 8.5 vs 17 with cosine).
_FMNIST_BEST = GANRunConfig(
    model=GANConfig(arch="dcgan", d_norm="sn", g_width=64, d_width=64),
    train=gan_train(batch_size=64, lr=2e-4, lr_schedule="constant"),
    gan=GANOptions(loss="hinge", lr_d=4e-4, beta1=0.5, beta2=0.999, ema_decay=0.999),
)

def _sn_resnet(image_size: int) -> GANRunConfig:
    return GANRunConfig(
        model=GANConfig(arch="resnet", image_size=image_size, channels=3, z_dim=128, g_width=64, d_width=64,
                        d_norm="sn", dcgan_init=False),
        train=gan_train(batch_size=64, lr=2e-4, lr_schedule="constant"),
        gan=GANOptions(loss="hinge", n_d=2, beta1=0.0, beta2=0.9, ema_decay=0.999,
                       diffaugment="color,translation,cutout"),
    )


def _rgb_gan(image_size: int, width: int, d_norm: str = "sn", lr: float = 2e-4, lr_d: float = 4e-4,
             batch_size: int = 64) -> GANRunConfig:
    return replace(_FMNIST_BEST, model=replace(_FMNIST_BEST.model, image_size=image_size, channels=3,
                                               g_width=width, d_width=width, d_norm=d_norm),
                   train=replace(_FMNIST_BEST.train, lr=lr, batch_size=batch_size,
                                 learn_steps=RGB_LEARN_STEPS["gan"]),
                   gan=replace(_FMNIST_BEST.gan, lr_d=lr_d))


_FEW_100 = replace(_FMNIST_BEST, model=replace(_FMNIST_BEST.model, g_width=16, d_width=16),
                   train=replace(_FMNIST_BEST.train, batch_size=32),
                   gan=replace(_FMNIST_BEST.gan, diffaugment="color,translation,cutout", diffaugment_shift=1 / 16,
                               diffaugment_fill="edge", lecam_weight=1.0))

# GAN presets: whole run configs, since a recipe is its optimiser and loss as much as its model.
GAN_PRESETS: dict[str, GANRunConfig] = {
    # pytorch/examples DCGAN: BN in G and D, N(0, 0.02) init, Adam 2e-4 with beta1 0.5, batch 128,
    # BCE with the non-saturating G loss, constant learning rate, fp32, no EMA, unconditional.
    "dcgan-textbook": GANRunConfig(
        model=GANConfig(arch="dcgan", d_norm="bn"),
        train=gan_train(batch_size=128, lr_schedule="constant", precision="fp32"),
        gan=GANOptions(loss="non-saturating", conditional=False),
    ),
    "fmnist-best": _FMNIST_BEST,
    # fmnist-best for little data (about 1,000 images) and short budgets: a quarter of the width (16),
    # so the same minutes buy about 4 times the steps. No DiffAugment: at 5-minute budgets a mild
    # translation changed FID by less than the seed-to-seed spread (bench_gan.py, 3 seeds;
    # bench_gan_da_variants.py, 2 seeds), and ADA's adaptive p stays near 0; add it with --diffaugment
    # for longer runs.
    "fmnist-few": replace(_FMNIST_BEST, model=replace(_FMNIST_BEST.model, g_width=16, d_width=16)),
    # fmnist-few for a hundred or so images (train gan --subset 100): there D overfits within minutes, the
    # regime the DiffAugment 100-shot results come from (Zhao et al. 2020), so every transform at p = 1, with the
    # mild translation (1/16, edge fill) that fared best at 28 px (bench_gan_da_variants.py). On top of it LeCam
    # regularisation at weight 1 (Tseng et al. 2021) and batch 32 (about 1.5 times the G steps in the same minutes):
    # FID 3.57 against 4.00 with DiffAugment alone at batch 64 on 100 images, 2.25 against 2.72 on 500, with higher
    # recall and utility at 500 (benchmarks/bench_few.py as `batch-32-lecam-1`, results/few-bf16.json: 3 seeds each,
    # 15 CPU-minutes, bf16). LeCam at batch 64 was within the seeds' spread of it at both sizes (3.77 and 2.12);
    # batch 32 alone was level with the old preset (4.01; 2.74 on one seed). A 1/8 shift and wider nets did no better,
    # nor did an EMA decay of 0.9999, DiffAugment without its colour transform, R1 at gamma 1, D's learning rate at
    # G's, both rates halved, D at width 8, G at width 64 or a class loss of 0.3 (1-2 seeds each); G at width 32 was
    # level at both sizes (3.53 and 2.24 over 3 seeds each, utility level too). ADA's adaptive p (target 0.6) and
    # consistency regularisation (bCR, weight 10) scored worse on 100 images: 4.15 and 3.83 over 3 seeds each.
    "few-100": _FEW_100,
    # few-100 at 32 px for a few hundred colour photos, the default for colour training sets up to
    # SMALL_DATA_IMAGES. On 200 photo crops (10 minutes, one thread, 3 seeds; benchmarks/bench_rgb_gan.py --subset
    # 200, results/rgb_gan_few.json) Inception FID 149.6 against 243.7 for rgb-32 (below), whose batch-norm D
    # separates the 200 crops from G's completely (logits about +8 and -7) while G collapses to flat patches;
    # rgb-32 with few-100's DiffAugment scored 159.4 (seed spread 27.2, few-100's 5.1), with LeCam 1 too 164.3.
    # The RGB GANs' warning threshold: in those runs' sample grids, noise at step 500, the photos' colours by 1,000.
    # At --image-size 64 on 200 crops: 190.2 against rgb-64's 249.2 (3 seeds; results/rgb_gan_few_64.json).
    "rgb-32-few": replace(_FEW_100, model=replace(_FEW_100.model, image_size=32, channels=3),
                          train=replace(_FEW_100.train, learn_steps=RGB_LEARN_STEPS["gan"])),
    # fmnist-best's recipe for RGB photos on a 2-core CPU: DCGAN-shaped G and D at half its width (32 channels at
    # full size, 256 at 4x4: a quarter of the cost per step), and 16 at 64 px. At 32 px on the photo crops, a
    # batch-norm D at 5x the learning rates (1e-3 for G, 2e-3 for D; the EMA of G smooths the steps) took the FID
    # against the training photos from 200 to 163.8 in 10 minutes on one thread (2 seeds of the old setting,
    # spread 2.4; 3 of this one, spread 7.0), where the spectrally normalised D at this width stayed near chance
    # (hinge loss ~1.6) and 5x the rates did nothing for it (202). DiffAugment and a wider D or G lost, 2x these
    # rates and an EMA decay of 0.99 lost (one seed each). Batch 32 (8,142 steps on the mean in the same minutes,
    # against 4,449) won on each of three paired seeds (160.1 on the mean), so it is the batch here; the
    # non-saturating loss on top of it was within a point of hinge on two seeds, so hinge stays
    # (benchmarks/bench_rgb_gan.py, results/rgb_gan.json).
    "rgb-32": _rgb_gan(32, width=32, d_norm="bn", lr=1e-3, lr_d=2e-3, batch_size=32),
    "rgb-64": _rgb_gan(64, width=16),
    # SN-ResNet (Miyato et al. 2018) for 32- and 64-pixel RGB folders: hinge, n_D = 2, EMA, DiffAugment.
    # Half the paper's widths (128/256): a GPU recipe (on a 2-core CPU, 64 px ran 6.7 s per step).
    "resnet-32": _sn_resnet(32),
    "resnet-64": _sn_resnet(64),
    # Differentially private training (--dp-epsilon; Bie et al. 2023): fmnist-best's conditional G at half width,
    # its projection D with no normalisation (batch norm mixes the images of a batch, so no per-image gradient;
    # opacus has no per-sample gradients for spectral norm), non-saturating loss, several D steps per G step
    # and EMA; measured by benchmarks/bench_privacy.py (results/privacy.json). The projection stays flat: the
    # pooled one, with 45% fewer D weights for the noise to fall on, lost 12-15 points of utility on 2 seeds.
    # D stays at width 32: width 16, with twice the steps in the same minutes, lost 3.6-5.9 points on 2 seeds.
    # (Both measured before the fix of D's per-sample conv gradients; clipping "separate" measured after it.)
    # The EMA stays: over the 5,500 G steps its warm-up weighs G's update s about as s^8, and longer averages
    # (--ema-power 1, 2, 4) lost 8.9, 6.3 and 1.0 points at a lower FID (benchmarks/bench_privacy_ema.py, 2 seeds),
    # shorter ones (16, 32) 4.7 and 11.1 (1 seed). Batch 128: 256 and 512, with the same images through D (so half
    # and a quarter of the G steps), lost 8.4 and 12.1 points (1 seed; measured after the fix).
    "dp-fmnist": GANRunConfig(
        model=GANConfig(arch="dcgan", d_norm="none", g_width=32, d_width=32),
        train=gan_train(batch_size=128, lr=2e-4, lr_schedule="constant", precision="fp32"),
        gan=GANOptions(loss="non-saturating", n_d=5, beta1=0.5, beta2=0.999, ema_decay=0.999),
    ),
}


# `train gan` without --preset: few-100 for training sets up to this many images, fmnist-best above. Measured by
# benchmarks/bench_few.py (results/few.json, 15 CPU-minutes, 3 seeds): at 100 images few-100 beats itself without
# DiffAugment on recall (0.42 against 0.23) and utility at the same FID; at 500 the FIDs are level and its recall is
# still higher (0.64 against 0.61); at 1,000 images DiffAugment's effect was within the seeds' spread (bench_gan.py).
SMALL_DATA_IMAGES = 500


def default_gan_preset(training_images: int, channels: int = 1, image_size: int | None = None) -> str:
    """The preset `train gan` uses when none is named, for a training set of this many images with these channels:
    the little-data recipe up to SMALL_DATA_IMAGES (at 32 px for colour, or at the --image-size given), else
    fmnist-best for grayscale and for colour what default_vqvae_preset picks."""
    small = training_images <= SMALL_DATA_IMAGES
    if channels == 3:
        return "rgb-32-few" if small else default_vqvae_preset(channels, image_size)
    return "few-100" if small else "fmnist-best"


def default_vqvae_preset(channels: int = 1, image_size: int | None = None) -> str:
    """The preset `train vqvae`, `train vqgan` and `train gan` use when none is named: the Fashion-MNIST recipes
    for grayscale data, and for colour data the RGB recipes made for a 2-core CPU (the only ones measured on colour
    photos: benchmarks/bench_own_data.py), at 64 px when --image-size asks for 64 or more, else at 32 px."""
    if channels != 3:
        return "fmnist-7x7"
    return "rgb-64" if image_size is not None and image_size >= 64 else "rgb-32"


def gan_preset(name: str) -> GANRunConfig:
    """The run config of a named GAN preset, or a GanvqError listing the names."""
    try:
        return GAN_PRESETS[name]
    except KeyError:
        raise GanvqError(f"unknown GAN preset {name!r}; choose from {', '.join(sorted(GAN_PRESETS))}") from None


def _base(kind: str, name: str | None) -> dict:
    """The starting point of a run config: a preset (VQ-VAE model or whole GAN run), else the defaults."""
    if kind == "vqvae":
        name = name or "fmnist-7x7"
        return to_dict(VQVAERunConfig(model=preset(name), train=VQVAE_TRAIN.get(name, TrainConfig())))
    if kind == "vqgan":  # a VQ-VAE run with a vqgan section
        name = name or "fmnist-7x7"
        return {**_base("vqvae", name), "vqgan": to_dict(VQGAN_PRESETS.get(name, VQGANOptions()))}
    if kind == "gan":
        return to_dict(gan_preset(name or "fmnist-best"))
    if kind == "prior":
        if name is not None:
            raise GanvqError("a prior has no presets; set its size with --arch, --dim and --layers")
        return to_dict(PriorRunConfig())
    raise GanvqError(f"unknown run kind {kind!r}; choose from {', '.join(RUN_CONFIGS)}")


def _length(layer: dict) -> dict:
    """A layer that sets a time budget and no step count trains for that time: its steps become None."""
    train = layer.get("train")
    if isinstance(train, dict) and train.get("minutes") is not None and "steps" not in train:
        return {**layer, "train": {**train, "steps": None}}
    return layer


def build_run_config(kind: str, preset: str | None = None, config_file: str | None = None,
                     overrides: dict | None = None):
    """The run config of `kind` ("vqvae", "vqgan": a VQ-VAE run with a vqgan section, "gan", "prior"): a preset
    (or the defaults), then a JSON/YAML config file, then `overrides` (a nested mapping, e.g.
    {"train": {"steps": 100}}; None values are options not given), each laid over the one before."""
    layers = [load_config_file(config_file)] if config_file else []
    layers.append(drop_none(overrides or {}))
    layers = [_length(layer) for layer in layers]
    if kind == "prior":
        # a local prior's own size defaults (not the transformer's, which would make it needlessly slow)
        models = [la["model"] for la in layers if isinstance(la.get("model"), dict)]  # from_dict names a bad one
        arch = next((m["arch"] for m in reversed(models) if "arch" in m), None)
        sized = {key for m in models for key in m}
        if arch == "local":
            layers.insert(0, {"model": {k: v for k, v in LOCAL_DEFAULTS.items() if k not in sized}})
    config = layered(RUN_CONFIGS["vqvae" if kind == "vqgan" else kind], _base(kind, preset), *layers)
    if kind == "prior" and not config.vqvae:
        raise GanvqError("give the VQ-VAE whose codes the prior models: --vqvae RUN")
    return config
