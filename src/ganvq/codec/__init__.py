"""Learned image codec: VQ-VAE code maps, entropy-coded with the prior, in the .gvq file format."""

from ganvq.codec.codec import Codec, model_hash
from ganvq.codec.format import GvqFormatError

__all__ = ["Codec", "GvqFormatError", "model_hash"]
