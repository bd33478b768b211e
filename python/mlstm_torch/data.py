"""The contiguous-stream data layout of `mlstm train` (src/data/streams.ts, src/data/split.ts).

A text of N tokens is cut into B streams of L = N // B consecutive tokens (the last N - B*L unused).
Window w of a pass holds, for stream b, the inputs stream_b[wT : wT+T] and the targets shifted by one;
a pass has W = (L - 1) // T windows, after which the next pass starts again at window 0 (and the
carried state restarts from zero there). The cursor (epoch, window) is what a checkpoint saves.

Distributed: rank r of N trains the contiguous block of streams `stream_block(B, N, r)` =
[r*B/N, (r+1)*B/N). All ranks read the same window index at every step, so the union of the ranks'
windows is exactly the [T,B] window of one process training all B streams.
"""
import math

VALID_FRACTION = 0.05


class DataError(ValueError):
    pass


def split_train_valid(tokens, fraction=VALID_FRACTION):
    """Hold out the last floor(fraction*N) tokens (src/data/split.ts): -> (train, valid) views."""
    n_valid = math.floor(len(tokens) * fraction)
    cut = len(tokens) - n_valid
    return tokens[:cut], tokens[cut:]


def tokens_fingerprint(tokens):
    """`count:hash8` with the 32-bit FNV-1a hash of the tokens' little-endian int32 bytes, exactly as
    tokensFingerprint in src/data/split.ts: `--resume` (here and in `mlstm train`) refuses other data."""
    h = 0x811C9DC5
    prime = 0x01000193
    values = tokens.tolist()
    if all(0 <= t < 256 for t in values):
        # one non-zero byte then three zero bytes: ((h ^ t) * p) * p * p * p, i.e. (h ^ t) * p^4 (mod 2^32)
        p4 = pow(prime, 4, 1 << 32)
        for t in values:
            h = ((h ^ t) * p4) & 0xFFFFFFFF
        return f"{len(values)}:{h:08x}"
    for t in values:
        t &= 0xFFFFFFFF
        h = ((h ^ (t & 0xFF)) * prime) & 0xFFFFFFFF
        h = ((h ^ ((t >> 8) & 0xFF)) * prime) & 0xFFFFFFFF
        h = ((h ^ ((t >> 16) & 0xFF)) * prime) & 0xFFFFFFFF
        h = ((h ^ (t >> 24)) * prime) & 0xFFFFFFFF
    return f"{len(tokens)}:{h:08x}"


def stream_block(batch, world, rank):
    """The streams [lo, hi) rank `rank` of `world` trains; `batch` must be divisible by `world`."""
    if batch % world != 0:
        raise DataError(f"--batch {batch} is not divisible by the world size {world}: every rank trains "
                        "batch/world streams")
    share = batch // world
    return rank * share, (rank + 1) * share


class WindowStreams:
    """B contiguous streams of a token tensor [N], read in windows of T (src/data/streams.ts), of which
    this process reads streams [lo, hi) (default: all)."""

    def __init__(self, tokens, batch, seq, lo=0, hi=None, source="training text", unit="characters"):
        if batch < 1 or seq < 1:
            raise ValueError(f"WindowStreams: batch and seq must be positive, got {batch} and {seq}")
        self.batch, self.seq = batch, seq
        self.lo, self.hi = lo, batch if hi is None else hi
        n = len(tokens)
        self.stream_length = n // batch
        L = self.stream_length
        self.windows_per_epoch = (L - 1) // seq if L >= 1 else 0
        if self.windows_per_epoch < 1:
            raise DataError(
                f"{source} is shorter than one window: {n} {unit} make {batch} streams of {L}, but a window "
                f"needs {seq + 1} per stream (seq {seq} + 1); use a smaller batch or seq, or a longer text")
        # [L, hi-lo]: column j is stream lo+j
        self.columns = tokens[: batch * L].reshape(batch, L)[self.lo: self.hi].T.contiguous()
        self.epoch = 0
        self.window = 0

    @property
    def cursor(self):
        return {"epoch": self.epoch, "window": self.window}

    def seek(self, cursor):
        epoch, window = cursor["epoch"], cursor["window"]
        valid = isinstance(epoch, int) and isinstance(window, int) and epoch >= 0
        if not (valid and 0 <= window < self.windows_per_epoch):
            raise DataError(f"WindowStreams.seek: cursor {cursor} is outside 0 <= window < {self.windows_per_epoch}")
        self.epoch, self.window = epoch, window

    def next(self):
        """-> (inputs [T, hi-lo], targets [T, hi-lo], epoch, window, starts_epoch) and advance the cursor."""
        T = self.seq
        epoch, window = self.epoch, self.window
        start = window * T
        inputs = self.columns[start: start + T]
        targets = self.columns[start + 1: start + T + 1]
        self.window += 1
        if self.window == self.windows_per_epoch:
            self.window = 0
            self.epoch += 1
        return inputs, targets, epoch, window, window == 0
