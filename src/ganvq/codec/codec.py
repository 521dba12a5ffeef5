"""A VQ-VAE and its prior as an image codec: images -> code maps -> range-coded .gvq bytes, and back.

compress: x -> VQ-VAE encoder -> indices (B, h, w) -> integer frequencies from the exact prior
(one teacher-forced pass) -> range coder -> .gvq. decompress runs the prior one step at a time
(the transformer with its KV cache), decoding each code as soon as its frequencies are known, then
the VQ-VAE decoder. Code maps round-trip exactly; images come back as the VQ-VAE reconstructs them.

Within a stream the symbols are ordered by the prior's decoding steps: the transformer decodes one
position per step, the local prior a whole wave of positions (prior/local.py). Step-major (step s
of every image, then s + 1), image by image within a step, so a stream of n images is decoded with
one coder call per step; files of one image each are decoded side by side in a batch, sharing the
prior's forward passes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ganvq.codec import entropy
from ganvq.codec.format import CHUNK, GvqFormatError, Header, min_payload, pack, unpack
from ganvq.device import resolve_device
from ganvq.errors import GanvqError
from ganvq.images import to_float, to_uint8_image
from ganvq.models.vqvae import VQVAE
from ganvq.prior import CodePrior, ExactLocalPrior, LocalPrior, exact_prior
from ganvq.prior.config import exact_form_problem
from ganvq.prior.exact import FREQ_BITS, frequencies
from ganvq.runs import Run, load_prior

# Images per VQ-VAE encoder forward: its activations (13 MB at 128 x 32 x 28 x 28 floats) stay below
# glibc's largest mmap threshold (32 MB), so their buffers are reused rather than mapped and
# page-faulted in afresh on every call: 500 made whole-codec encoding ~20% slower (measured).
VQ_BATCH = 128
DECODE_BATCH = 32  # code maps per VQ-VAE decoder forward, always this many (see decode_images)
FREQ_VALUES = 1 << 19  # frequency-table entries (positions x codes) computed at once: stays in cache
DECODE_BYTES = 1 << 28  # bound on the KV cache of the images decoded side by side


def model_hash(prior: CodePrior | LocalPrior, vqvae: VQVAE) -> bytes:
    """SHA-256 of both models' configs and weights: what a .gvq file's fingerprint and check are keyed on."""
    h = hashlib.sha256(b"ganvq-codec-v1\0")
    for name, module in (("vqvae", vqvae), ("prior", prior)):
        config = asdict(module.config)
        config.pop("exact", None)  # added after files were written: hashes stay as before
        if config.get("arch") == "transformer":  # fields added with the local prior: transformer hashes stay as before
            del config["arch"], config["neighbors"]
        h.update(json.dumps({name: config}, sort_keys=True).encode())
        for key, t in sorted(module.state_dict().items()):
            t = t.detach().cpu().contiguous()
            h.update(f"{key}:{t.dtype}:{tuple(t.shape)}\0".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.digest()


def _as_uint8_images(images) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise GanvqError(f"images must be a uint8 tensor or array (N, C, H, W), got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise GanvqError(f"images must be uint8 (0-255), got {images.dtype}")
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise GanvqError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    return images


class Codec:
    """compress(images) -> bytes and decompress(bytes) -> images with one VQ-VAE + prior pair."""

    def __init__(self, prior: CodePrior | LocalPrior, vqvae: VQVAE, device: str | torch.device = "cpu"):
        if not prior.config.exact:
            raise GanvqError(f"this prior was trained only for sampling (model.exact: false), so it cannot code "
                             f"files: {exact_form_problem(prior.config) or 'its config says so'}; train one within "
                             "the codec's limits")
        self.device = torch.device(device)
        self.prior = prior.eval()
        # channels_last lets oneDNN pick faster convolutions (~30% on the encoder here)
        self.vqvae = vqvae.to(self.device, memory_format=torch.channels_last).eval()
        self.exact = exact_prior(prior)  # always on the CPU, see prior/exact.py
        self.hash = model_hash(prior, vqvae)
        cfg = vqvae.config
        self.shape = (cfg.channels, cfg.image_size, cfg.image_size)  # (C, H, W) of the images it codes
        self.num_classes = prior.config.num_classes
        self.seq_len = prior.config.seq_len
        self.codebook_size = prior.config.codebook_size

    @classmethod
    def from_checkpoint(cls, path: str | Path | Run, device: str = "cpu") -> "Codec":
        """The codec of a prior checkpoint (which holds its VQ-VAE), or run folder."""
        prior, vqvae, _ = load_prior(path, "cpu")
        return cls(prior, vqvae, resolve_device(device))

    @property
    def fingerprint(self) -> str:
        """The model fingerprint files record, as hex."""
        return self.hash[:2].hex()

    # -- code maps <-> streams ---------------------------------------------------------------------
    def frequencies(self, indices: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """int32 frequencies (B, T, K) (summing to 2^24) of every code of the maps (B, h, w)."""
        step = max(1, FREQ_VALUES // (self.seq_len * self.codebook_size))
        out = []
        for i in range(0, len(indices), step):
            y = None if labels is None else labels[i : i + step]
            out.append(frequencies(self.exact.logits(indices[i : i + step], y)).cpu())
        return torch.cat(out) if out else torch.empty(0, self.seq_len, self.codebook_size, dtype=torch.int32)

    def code_bits(self, indices: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """-log2 p(indices) under the exact integer model, per code map (B,): the ideal payload size."""
        freqs = self.frequencies(indices, labels)
        f = freqs.gather(2, indices.reshape(len(indices), -1, 1).cpu())[..., 0]
        return (FREQ_BITS - torch.log2(f.double())).sum(1)

    def _best_labels(self, indices: torch.Tensor) -> torch.Tensor:
        """For a class-conditional prior: the class under which each code map costs the fewest bits."""
        bits = torch.stack([self.code_bits(indices, torch.full((len(indices),), c)) for c in range(self.num_classes)])
        return bits.argmin(0)

    def _label_freqs(self, n: int) -> np.ndarray:
        c = self.num_classes
        f = np.full((n, c), (1 << FREQ_BITS) // c, dtype=np.int64)
        f[:, 0] += (1 << FREQ_BITS) - f.sum(1)
        return f

    def encode_codes(self, indices: torch.Tensor, labels: torch.Tensor | None = None, each: bool = False) -> list[bytes]:
        """Range-coded payloads of code maps (B, h, w): one per map (`each`), else one per CHUNK maps."""
        indices = self.check_codes(indices)
        if self.num_classes and labels is None:
            labels = self._best_labels(indices)
        size = 1 if each else CHUNK
        payloads = []
        # frequencies in slices that bound memory, then one stream per group of `size` maps
        step = max(size, (FREQ_VALUES // (self.seq_len * self.codebook_size)) // size * size)
        for i in range(0, len(indices), step):
            part = indices[i : i + step]
            y = None if labels is None else labels[i : i + step]
            freqs = self.frequencies(part, y).numpy()
            symbols = part.reshape(len(part), -1).numpy()
            for j in range(0, len(part), size):
                s, f = symbols[j : j + size], freqs[j : j + size]  # (n, T), (n, T, K)
                segments = [] if y is None else [(y[j : j + size].numpy(), self._label_freqs(len(s)))]
                order = self._stream_order(len(s))  # step-major, see the module docstring
                segments.append((s.reshape(-1)[order], f.reshape(-1, f.shape[-1])[order]))
                payloads.append(entropy.encode(segments, min_bytes=min_payload(len(s))))
        return payloads

    @functools.lru_cache(maxsize=8)
    def _stream_order(self, n: int) -> np.ndarray:
        """Flat indices into n maps' (n * T) symbols in stream order: by decoding step, image, position in the step."""
        waves = self.exact.waves
        return np.concatenate([(np.arange(n)[:, None] * self.seq_len + w.numpy()[None]).reshape(-1) for w in waves])

    @torch.no_grad()
    def decode_codes(self, payloads: list[bytes], counts: list[int]) -> torch.Tensor:
        """Code maps (sum(counts), h, w) from streams of counts[i] maps each, decoded side by side."""
        decoders = [entropy.StreamDecoder(p) for p in payloads]
        rows = np.cumsum([0, *counts])
        n = int(rows[-1])
        labels = None
        if self.num_classes:
            labels = torch.from_numpy(np.concatenate(
                [d.decode(entropy.probabilities(self._label_freqs(c))) for d, c in zip(decoders, counts)]))
        h, w = self.prior.config.height, self.prior.config.width
        if n == 1 and isinstance(self.exact, ExactLocalPrior):  # one image of a local prior: one call per wave
            label = 0 if labels is None else int(labels[0])
            return torch.from_numpy(self.exact.decode_one(decoders[0].decode, label)).view(1, h, w)
        state = self.exact.start(n, labels)
        codes = np.empty((n, self.seq_len), dtype=np.int64)
        for wave in self.exact.waves:
            wave = wave.numpy()
            probs = entropy.probabilities(frequencies(self.exact.step_logits(state)).numpy())  # (n, P, K)
            if len(decoders) == n:  # one map per stream (files of one image): the fast path
                step = np.stack([d.decode(p) for d, p in zip(decoders, probs)])
            else:
                step = np.empty((n, len(wave)), dtype=np.int64)
                for d, a, b in zip(decoders, rows[:-1], rows[1:]):
                    step[a:b] = d.decode(probs[a:b].reshape(-1, probs.shape[-1])).reshape(b - a, len(wave))
            codes[:, wave] = step
            self.exact.advance(state, torch.from_numpy(step))
        return torch.from_numpy(codes).view(n, h, w)

    def check_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Code maps as int64 (B, h, w) on the CPU, or a GanvqError when they do not fit this model."""
        h, w = self.prior.config.height, self.prior.config.width
        if indices.ndim != 3 or tuple(indices.shape[1:]) != (h, w):
            raise GanvqError(f"code maps must have shape (B, {h}, {w}) for this model, got {tuple(indices.shape)}")
        indices = indices.cpu().long()
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.codebook_size):
            raise GanvqError(f"codes must lie in [0, {self.codebook_size - 1}] for this model")
        return indices

    # -- images <-> code maps ------------------------------------------------------------------
    def check_images(self, images) -> torch.Tensor:
        """uint8 images (N, C, H, W) of this model's shape, or a GanvqError saying what differs."""
        images = _as_uint8_images(images)
        if tuple(images.shape[1:]) != self.shape:
            c, h, w = self.shape
            raise GanvqError(f"this model codes {h}x{w} {'grayscale' if c == 1 else 'RGB'} images (C, H, W) = "
                             f"{self.shape}; got {tuple(images.shape[1:])}")
        return images

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, H, W) -> code maps (N, h, w) int64 on the CPU."""
        images = self.check_images(images)
        cl = torch.channels_last
        out = [self.vqvae.encode(to_float(images[i : i + VQ_BATCH]).to(self.device, memory_format=cl)).cpu()
               for i in range(0, len(images), VQ_BATCH)]
        return torch.cat(out) if out else torch.empty(0, *self.prior_shape, dtype=torch.int64)

    @torch.no_grad()
    def decode_images(self, indices: torch.Tensor) -> torch.Tensor:
        """Code maps (N, h, w) -> uint8 images (N, C, H, W), as the VQ-VAE reconstructs them."""
        # Every forward sees exactly DECODE_BATCH code maps (the last batch padded), so an image's
        # pixels never depend on which images it was decoded with: convolution kernels chosen per
        # batch size round differently (measured: a few pixels off by 1 between batches of 500 and 391).
        out = []
        for i in range(0, len(indices), DECODE_BATCH):
            batch = indices[i : i + DECODE_BATCH]
            padded = torch.cat([batch, batch.new_zeros(DECODE_BATCH - len(batch), *batch.shape[1:])])
            x_hat = self.vqvae.decode(padded.to(self.device))[: len(batch)]
            out.append(torch.from_numpy(to_uint8_image(x_hat)))
        if not out:
            return torch.empty(0, *self.shape, dtype=torch.uint8)
        return torch.cat(out).permute(0, 3, 1, 2).contiguous()

    @property
    def prior_shape(self) -> tuple[int, int]:
        return (self.prior.config.height, self.prior.config.width)

    @property
    def raw_bits_per_pixel(self) -> float:
        """The code maps' size before entropy coding, h * w * log2(K) bits, per image pixel position."""
        h, w = self.prior_shape
        return h * w * math.log2(self.codebook_size) / (self.shape[1] * self.shape[2])

    # -- whole files ------------------------------------------------------------------------------
    def header(self, count: int) -> Header:
        """The header of a file of `count` images made with this model."""
        c, h, w = self.shape
        return Header(height=h, width=w, channels=c, count=count, fingerprint=self.hash[:2])

    def compress(self, images) -> bytes:
        """uint8 images (N, C, H, W) (or one (C, H, W)) -> the bytes of one .gvq file holding all N."""
        images = self.check_images(images)
        if len(images) == 0:
            raise GanvqError("no images to compress")
        payloads = self.encode_codes(self.encode_images(images))
        return pack(self.header(len(images)), payloads, self.hash)

    def decompress(self, data: bytes) -> torch.Tensor:
        """The bytes of a .gvq file -> its uint8 images (N, C, H, W)."""
        return self.decompress_each([data])[0]

    def compress_each(self, images, indices: torch.Tensor | None = None) -> list[bytes]:
        """One .gvq file per image (N, C, H, W), coded side by side: the fast path for folders. `indices`: the
        images' code maps when the caller has them already."""
        if indices is None:
            indices = self.encode_images(self.check_images(images))
        payloads = self.encode_codes(indices, each=True)
        header = self.header(1)
        return [pack(header, [p], self.hash) for p in payloads]

    def parse(self, data: bytes) -> tuple[Header, list[bytes]]:
        """Header and chunk payloads of a .gvq file made with this model, or a GanvqError."""
        header, payloads = unpack(data, self.hash)
        if (header.channels, header.height, header.width) != self.shape:
            raise GvqFormatError(f"the file holds {header.height}x{header.width} images with {header.channels} "
                                 f"channel(s); this model codes {self.shape[1]}x{self.shape[2]} with {self.shape[0]}")
        return header, payloads

    def decompress_each(self, files: list[bytes]) -> list[torch.Tensor]:
        """Many .gvq files decoded side by side -> one uint8 (N_i, C, H, W) tensor per file."""
        streams = []  # (file index, payload, images in it)
        per_file = []
        for k, data in enumerate(files):
            header, parts = self.parse(data)
            per_file.append(header.count)
            streams += [(k, p, min(CHUNK, header.count - i * CHUNK)) for i, p in enumerate(parts)]
        limit = max(CHUNK, DECODE_BYTES // self.exact.state_bytes)
        decoded: list[list[torch.Tensor]] = [[] for _ in files]
        group: list = []
        in_group = 0
        for i, stream in enumerate(streams):
            group.append(stream)
            in_group += stream[2]
            if i + 1 == len(streams) or in_group + streams[i + 1][2] > limit:
                counts = [n for *_, n in group]
                images = self.decode_images(self.decode_codes([p for _, p, _ in group], counts))
                start = 0
                for (k, _, n) in group:
                    decoded[k].append(images[start : start + n])
                    start += n
                group, in_group = [], 0
        return [parts[0] if len(parts) == 1 else torch.cat(parts) if parts else torch.empty(0, *self.shape, dtype=torch.uint8)
                for parts in decoded]


