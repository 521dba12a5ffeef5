"""Range coding of code maps with integer frequencies, via `constriction` (Bamler 2022).

Frequencies come from prior/exact.py as integers summing to 2^24 and are handed to constriction
as the exactly representable floats f / 2^24, so encoder and decoder build the same tables.
constriction writes whole 32-bit words; since a file of one 28x28 image holds only a few hundred
bits, the encoder then looks for the shortest byte string that still decodes to the same
symbols when the decoder pads it with zeros (the words are stored big-endian, so dropped bytes
are the least significant end of the code value). That leaves about one byte of termination
overhead instead of up to eight.
"""

from __future__ import annotations

import numpy as np

from ganvq.errors import GanvqError

try:
    import constriction
except ImportError:  # pragma: no cover - a dependency; the message says how to fix a broken install
    constriction = None

FREQ_SCALE = float(2**24)
# A stream's bytes hold at least its information content (the ideal code length, -sum log2 p) less this
# many bits: the encoder pads shorter ones with zero bytes, so a decoder may refuse streams that decode to
# more information than 8 * bytes + SLACK_BITS (see StreamDecoder.bits), which bounds decoding work.
SLACK_BITS = 64
_PAD = b"\x00" * 12  # zero words past the end: a trimmed stream reads them, never past them


def _family():
    if constriction is None:
        raise GanvqError("the codec needs the `constriction` package: pip install constriction")
    return constriction.stream.model.Categorical(perfect=False)


def probabilities(freqs: np.ndarray) -> np.ndarray:
    """int64 frequencies (n, K) summing to 2^24 per row -> float64 f / 2^24 (exact)."""
    return np.ascontiguousarray(freqs, dtype=np.float64) / FREQ_SCALE


def _words(data: bytes) -> np.ndarray:
    padded = data + _PAD[: (-len(data)) % 4] + _PAD
    return np.frombuffer(padded, dtype=">u4").astype(np.uint32)


Segment = tuple[np.ndarray, np.ndarray]  # symbols (n,) and their frequency rows (n, K); K may differ by segment


def _decodes_to(data: bytes, segments: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    try:
        decoder = constriction.stream.queue.RangeDecoder(_words(data))
        return all(np.array_equal(decoder.decode(_family(), probs), symbols) for symbols, probs in segments)
    except Exception:  # constriction refuses some invalid streams (an AssertionError in 0.5)
        return False


def encode(segments: list[Segment], min_bytes: int = 0) -> bytes:
    """Range-code segments of symbols, each with its frequency rows, as one stream: the shortest bytes that decode
    back, padded with zero bytes (which decode the same) to `min_bytes` and to the information content less
    SLACK_BITS."""
    family = _family()
    encoder = constriction.stream.queue.RangeEncoder()
    coded, ideal = [], 0.0
    for symbols, freqs in segments:
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        probs = probabilities(freqs)
        if len(symbols):
            encoder.encode(symbols, family, probs)
            ideal -= np.log2(probs[np.arange(len(symbols)), symbols]).sum()
        coded.append((symbols, probs))
    data = encoder.get_compressed().astype(">u4").tobytes()
    best = _shortest(data, coded, guess=int(np.ceil(ideal / 8)))
    floor = max(min_bytes, int(np.ceil((ideal - SLACK_BITS) / 8)))
    return best + b"\0" * max(floor - len(best), 0)


def _fits(data: bytes, length: int, segments: list) -> bytes | None:
    """A string of `length` bytes that decodes to the segments: the coded value cut there, or the next one up.

    The next one up is tried first: the interval's lower end rarely falls on a byte boundary, so
    it is the one that fits about four times in five (measured on Fashion-MNIST files).
    """
    head = data[:length]
    if length:
        up = int.from_bytes(head, "big") + 1
        if up < 1 << (8 * length) and _decodes_to(up.to_bytes(length, "big"), segments):
            return up.to_bytes(length, "big")
    return head if _decodes_to(head, segments) else None


def _shortest(data: bytes, segments: list, guess: int) -> bytes:
    """The shortest byte string that, padded with zeros, still decodes to the segments' symbols.

    The strings of a given length that work are the multiples of 2^-8L inside the coder's final
    interval: if any does, the cut of the coded value or the next one up does, and if no string of
    length L works, no shorter one does (pad it with a zero byte). So search from the ideal length
    (the information content, in bytes), down while it fits, else up until it does.
    """
    length = min(max(guess, 0), len(data))
    best = _fits(data, length, segments)
    if best is not None:
        while length > 0 and (shorter := _fits(data, length - 1, segments)) is not None:
            best, length = shorter, length - 1
        return best
    while length < len(data):
        length += 1
        if (best := _fits(data, length, segments)) is not None:
            return best
    return data


class StreamDecoder:
    """Decodes one stream a few symbols at a time, each with frequencies known only by then."""

    def __init__(self, data: bytes):
        self._family = _family()
        self.budget = 8 * len(data) + SLACK_BITS + 1  # the most information its symbols may carry (+1: rounding)
        self.bits = 0.0  # information decoded so far, -sum log2 p
        try:
            self._decoder = constriction.stream.queue.RangeDecoder(_words(data))
        except Exception as e:  # constriction's errors are not a documented type
            raise GanvqError(f"the file is corrupted (the coded stream cannot be read: {e})") from None

    def decode(self, probs: np.ndarray) -> np.ndarray:
        """The next len(probs) symbols (int32), decoded with rows probs (n, K) = frequencies / 2^24 (see `probabilities`)."""
        try:
            symbols = self._decoder.decode(self._family, probs)
        except Exception as e:
            raise GanvqError(f"the file is corrupted (the coded stream ends early or is invalid: {e})") from None
        if len(symbols):
            self.bits -= float(np.log2(probs[np.arange(len(symbols)), symbols]).sum())
            if self.bits > self.budget:
                raise GanvqError("the file is corrupted (a coded stream decodes to more information than its "
                                 "bytes hold)")
        return symbols
