"""Drawing the dropout masks of a training window (SPEC-NOTES §1).

Every mask is inverted dropout: kept with probability 1 - p and then worth 1/(1 - p), dropped = 0.
Per window, in this order, from the trainer's seeded CPU generator:
  1. the embedding mask [B,V] (b-major), if embed_dropout > 0;
  2. the hidden-state masks [B,H] of layers 0..L-1 (b-major), if hidden_dropout > 0;
  3. if dropout > 0 and L > 1: one 63-bit seed, from which a generator on the compute device draws the
     between-layer masks [T,B,H] of boundaries 1..L-1 (a new mask per step; drawn on the device because
     they are T times larger than the others).
The masks are drawn for all B streams of the global batch; a rank keeps its own rows
(`DropoutMasks.streams`), so N ranks x B/N streams draw exactly what 1 rank x B streams draws, and a
resumed run (the CPU generator's state is saved) draws what the uninterrupted one would have.
"""
import torch

from .model import DropoutMasks


def keep_mask(u, p):
    """u uniform in [0,1) -> 0 where u < p (probability p), 1/(1-p) elsewhere (as float64)."""
    return (u >= p).to(torch.float64) * (1.0 / (1.0 - p))


class MaskSampler:
    """Draws `DropoutMasks` for windows of [T, batch] tokens; `generator` is a seeded torch.Generator (CPU)."""

    def __init__(self, generator, batch, vocab, hidden, layers, embed_dropout=0.0, hidden_dropout=0.0,
                 dropout=0.0, device="cpu"):
        for name, p in (("embed_dropout", embed_dropout), ("hidden_dropout", hidden_dropout), ("dropout", dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"MaskSampler: {name} must be in [0, 1), got {p}")
        self.generator = generator
        self.batch, self.vocab, self.hidden, self.layers = batch, vocab, hidden, layers
        self.embed_dropout, self.hidden_dropout, self.dropout = embed_dropout, hidden_dropout, dropout
        self.device = torch.device(device)
        self.device_generator = torch.Generator(device=self.device) if dropout > 0 and layers > 1 else None

    @property
    def active(self):
        return self.embed_dropout > 0 or self.hidden_dropout > 0 or (self.dropout > 0 and self.layers > 1)

    def draw(self, seq, dtype):
        """The masks of the next window (all B streams) on the device in `dtype`, or None without dropout."""
        if not self.active:
            return None
        g, B = self.generator, self.batch
        embed = hidden = between = None
        if self.embed_dropout > 0:
            embed = keep_mask(torch.rand(B, self.vocab, generator=g, dtype=torch.float64), self.embed_dropout)
        if self.hidden_dropout > 0:
            hidden = [keep_mask(torch.rand(B, self.hidden, generator=g, dtype=torch.float64), self.hidden_dropout)
                      for _ in range(self.layers)]
        masks = DropoutMasks(embed, hidden).to(self.device, dtype)
        if self.device_generator is not None:
            seed = int(torch.randint(0, 2 ** 63 - 1, (1,), generator=g))
            self.device_generator.manual_seed(seed)
            p = self.dropout
            masks.between = [
                ((torch.rand(seq, B, self.hidden, generator=self.device_generator, device=self.device) >= p)
                 .to(dtype) * (1.0 / (1.0 - p)))
                for _ in range(self.layers - 1)]
        return masks
