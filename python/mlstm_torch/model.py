"""The character language model of docs/CONTRACT.md, written in PyTorch from that page alone.

    embedding -> L recurrent layers (mLSTM, LSTM or mRNN; optional weight norm) -> linear head

Parameter names are the contract's (`embed.weight`, `layers.0.wmx` or `layers.0.wmx.v`/`.g`,
`head.weight`, `head.bias`), so `state_dict()` keys are exactly a checkpoint's tensor names.
Weights are [out, in]; fused gate blocks are stacked i, f, g, o.

(The mLSTM here is Krause et al.'s multiplicative LSTM, not the matrix-memory "mLSTM" of xLSTM.)

Dropout (SPEC-NOTES §1) is not part of the model: a training step passes the masks of its window
(`DropoutMasks`, drawn by `mlstm_torch.dropout`), and without masks the model computes the contract's
equations exactly (evaluation, dynamic evaluation, sampling).
"""
import math

import torch
from torch import nn

# name -> shape given (H, D), per cell kind (docs/CONTRACT.md "Cells")
CELL_SHAPES = {
    "mlstm": lambda H, D: {"wmx": (H, D), "wmh": (H, H), "whx": (4 * H, D), "whm": (4 * H, H), "bias": (4 * H,)},
    "lstm": lambda H, D: {"wx": (4 * H, D), "wh": (4 * H, H), "bias": (4 * H,)},
    "mrnn": lambda H, D: {"wmx": (H, D), "wmh": (H, H), "whx": (H, D), "whm": (H, H), "bias": (H,)},
}


class WeightNormMatrix(nn.Module):
    """W = g[:,None] * v / ||v_row||_2 (one norm per output row); state-dict keys `<name>.v`, `<name>.g`."""

    def __init__(self, rows, cols):
        super().__init__()
        self.v = nn.Parameter(torch.zeros(rows, cols))
        self.g = nn.Parameter(torch.ones(rows))

    def forward(self):
        return self.g[:, None] * self.v / self.v.norm(dim=1, keepdim=True)


class Cell(nn.Module):
    """One recurrent layer of kind `mlstm`, `lstm` or `mrnn` over a whole window [T,B,D]."""

    def __init__(self, kind, input_size, hidden, weight_norm=False):
        super().__init__()
        if kind not in CELL_SHAPES:
            raise ValueError(f"Cell: unknown cell kind {kind!r} (expected one of {sorted(CELL_SHAPES)})")
        if weight_norm and kind != "mlstm":
            raise ValueError(f"Cell: weight norm is defined for the mlstm cell only, not {kind!r}")
        self.kind, self.hidden, self.weight_norm = kind, hidden, weight_norm
        self.shapes = CELL_SHAPES[kind](hidden, input_size)
        for name, shape in self.shapes.items():
            if len(shape) == 2 and weight_norm:
                self.add_module(name, WeightNormMatrix(*shape))
            else:
                self.register_parameter(name, nn.Parameter(torch.zeros(*shape)))

    def matrix(self, name):
        p = getattr(self, name)
        return p() if isinstance(p, WeightNormMatrix) else p

    def zero_state(self, batch, dtype, device=None):
        h = torch.zeros(batch, self.hidden, dtype=dtype, device=device)
        c = None if self.kind == "mrnn" else torch.zeros(batch, self.hidden, dtype=dtype, device=device)
        return h, c

    def forward(self, xs, state, hidden_mask=None):
        """xs [T,B,D], state (h [B,H], c [B,H] or None) -> (outputs [T,B,H], final (h, c)).

        With `hidden_mask` M [B,H] (variational hidden dropout, SPEC-NOTES §1) the recurrence reads
        M * h_{t-1} (also for the state carried in) and the outputs are M * h_t; the final state is the
        unmasked (h_T, c_T). Under autocast the matrix products may run in bf16; the state update runs in
        the state's dtype (z is cast back), so c_t does not accumulate in bf16 over a window."""
        h, c = state
        dtype = h.dtype
        T = xs.shape[0]
        hs = []
        if self.kind == "lstm":
            wh = self.matrix("wh")
            # [T,B,4H], all steps at once; unbind, not zx[t]: T index ops would each send back a zero-filled
            # [T,B,4H] gradient (O(T^2) work in backward), one unbind sends back one stacked gradient.
            zx = (xs @ self.matrix("wx").T + self.bias).unbind(0)
            for t in range(T):
                hr = h if hidden_mask is None else h * hidden_mask
                z = (zx[t] + hr @ wh.T).to(dtype)
                h, c = gated_update(z, c)
                hs.append(h)
        else:
            wmh, whm = self.matrix("wmh"), self.matrix("whm")
            mx = (xs @ self.matrix("wmx").T).unbind(0)  # T × [B,H] (unbind: see the LSTM branch)
            zx = (xs @ self.matrix("whx").T + self.bias).unbind(0)  # T × [B,4H] (mLSTM) or [B,H] (mRNN)
            for t in range(T):
                hr = h if hidden_mask is None else h * hidden_mask
                m = mx[t] * (hr @ wmh.T)  # multiplicative intermediate state
                z = (zx[t] + m @ whm.T).to(dtype)
                if self.kind == "mlstm":
                    h, c = gated_update(z, c)
                else:
                    h = torch.tanh(z)
                hs.append(h)
        out = torch.stack(hs)
        if hidden_mask is not None:
            out = out * hidden_mask
        return out, (h, c)


def gated_update(z, c):
    """i, f, g, o = split(z, 4); c' = s(f)c + s(i)tanh(g); h' = s(o)tanh(c')."""
    i, f, g, o = z.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class DropoutMasks:
    """The dropout masks of one window (SPEC-NOTES §1), each holding 0 or 1/(1-p):

    - `embed` [B,V]: the embedding of token v read by stream b is embed[b,v] * embed.weight[v];
    - `hidden`: per layer [B,H] (or None for a layer without), the variational hidden-state mask;
    - `between`: per layer boundary l = 1..L-1 a [T,B,H] mask on the input of layer l (plain
      per-element dropout between stacked layers), applied after the hidden mask of layer l-1.
    Any field may be None (no such dropout)."""

    def __init__(self, embed=None, hidden=None, between=None):
        self.embed, self.hidden, self.between = embed, hidden, between

    def streams(self, lo, hi):
        """The masks of streams lo..hi (a rank's share of the global batch)."""
        return DropoutMasks(
            None if self.embed is None else self.embed[lo:hi],
            None if self.hidden is None else [None if m is None else m[lo:hi] for m in self.hidden],
            None if self.between is None else [None if m is None else m[:, lo:hi] for m in self.between],
        )

    def to(self, device, dtype):
        def move(m):
            return None if m is None else m.to(device=device, dtype=dtype, non_blocking=True)

        return DropoutMasks(
            move(self.embed),
            None if self.hidden is None else [move(m) for m in self.hidden],
            None if self.between is None else [move(m) for m in self.between],
        )


class CharLM(nn.Module):
    def __init__(self, cell, vocab, embed, hidden, layers, weight_norm=False):
        super().__init__()
        for name, value in (("vocab", vocab), ("embed", embed), ("hidden", hidden), ("layers", layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"CharLM: {name} must be a positive integer, got {value!r}")
        self.config = {
            "cell": cell, "weight_norm": bool(weight_norm), "vocab": vocab, "embed": embed, "hidden": hidden,
            "layers": layers,
        }
        self.embed = nn.Embedding(vocab, embed)  # embed.weight [V,E]
        self.layers = nn.ModuleList(
            Cell(cell, embed if l == 0 else hidden, hidden, weight_norm) for l in range(layers))
        self.head = nn.Linear(hidden, vocab)  # head.weight [V,H], head.bias [V]

    def zero_state(self, batch):
        w = self.head.weight
        return [layer.zero_state(batch, w.dtype, w.device) for layer in self.layers]

    def forward(self, tokens, state=None, masks=None):
        """tokens [T,B] (int) -> logits [T,B,V], final state (one (h, c) per layer); `masks` as
        DropoutMasks for a training window (None: no dropout)."""
        if state is None:
            state = self.zero_state(tokens.shape[1])
        tokens = tokens.long()
        xs = self.embed(tokens)  # [T,B,E]
        if masks is not None and masks.embed is not None:
            # scale[t,b] = embed_mask[b, tokens[t,b]]: whole character types dropped per stream
            scale = torch.gather(masks.embed, 1, tokens.T).T  # [T,B]
            xs = xs * scale.unsqueeze(-1)
        new_state = []
        for l, (layer, s) in enumerate(zip(self.layers, state)):
            if l > 0 and masks is not None and masks.between is not None and masks.between[l - 1] is not None:
                xs = xs * masks.between[l - 1]
            hidden_mask = None if masks is None or masks.hidden is None else masks.hidden[l]
            xs, s = layer(xs, s, hidden_mask)
            new_state.append(s)
        return self.head(xs), new_state


def detach_state(state):
    return [(h.detach(), None if c is None else c.detach()) for h, c in state]


def init_like_mlstm(model, generator=None):
    """A fresh initialisation with the distributions `mlstm train` uses (not its RNG stream):
    embedding N(0,1); every cell weight and bias U(+-1/sqrt(H)) with the forget-gate block of the
    gated biases set to 1; head weight and bias U(+-1/sqrt(H)); weight norm starts at g = ||v_row||."""
    H = model.config["hidden"]
    bound = 1.0 / math.sqrt(H)
    with torch.no_grad():
        model.embed.weight.normal_(0.0, 1.0, generator=generator)
        for layer in model.layers:
            for name in layer.shapes:
                p = getattr(layer, name)
                if isinstance(p, WeightNormMatrix):
                    p.v.uniform_(-bound, bound, generator=generator)
                    p.g.copy_(p.v.norm(dim=1))
                else:
                    p.uniform_(-bound, bound, generator=generator)
            if layer.kind in ("mlstm", "lstm"):
                layer.bias[H: 2 * H] = 1.0
        model.head.weight.uniform_(-bound, bound, generator=generator)
        model.head.bias.uniform_(-bound, bound, generator=generator)
