"""The character language model of CONTRACT.md, written in PyTorch from that page alone.

    embedding -> L recurrent layers (mLSTM, LSTM or mRNN; optional weight norm) -> linear head

Parameter names are the contract's (`embed.weight`, `layers.0.wmx` or `layers.0.wmx.v`/`.g`,
`head.weight`, `head.bias`), so `state_dict()` keys are exactly a checkpoint's tensor names.
Weights are [out, in]; fused gate blocks are stacked i, f, g, o.
"""
import json
import math

import torch
from torch import nn

from safetensors_io import read_safetensors, write_safetensors

CHECKPOINT_FORMAT = "mlstm-charlm/1"
MODEL_PREFIXES = ("embed.", "layers.", "head.")

# name -> shape given (H, D), per cell kind (CONTRACT.md "Cells")
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

    def zero_state(self, batch, dtype):
        h = torch.zeros(batch, self.hidden, dtype=dtype)
        return (h, None) if self.kind == "mrnn" else (h, torch.zeros(batch, self.hidden, dtype=dtype))

    def forward(self, xs, state):
        """xs [T,B,D], state (h [B,H], c [B,H] or None) -> (hs [T,B,H], final state)."""
        h, c = state
        T = xs.shape[0]
        hs = []
        if self.kind == "lstm":
            wh = self.matrix("wh")
            zx = xs @ self.matrix("wx").T + self.bias  # [T,B,4H], all steps at once
            for t in range(T):
                z = zx[t] + h @ wh.T
                h, c = gated_update(z, c)
                hs.append(h)
        else:
            wmh, whm = self.matrix("wmh"), self.matrix("whm")
            mx = xs @ self.matrix("wmx").T  # [T,B,H]
            zx = xs @ self.matrix("whx").T + self.bias  # [T,B,4H] (mLSTM) or [T,B,H] (mRNN)
            for t in range(T):
                m = mx[t] * (h @ wmh.T)  # multiplicative intermediate state
                z = zx[t] + m @ whm.T
                if self.kind == "mlstm":
                    h, c = gated_update(z, c)
                else:
                    h = torch.tanh(z)
                hs.append(h)
        return torch.stack(hs), (h, c)


def gated_update(z, c):
    """i, f, g, o = split(z, 4); c' = s(f)c + s(i)tanh(g); h' = s(o)tanh(c')."""
    i, f, g, o = z.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class CharLM(nn.Module):
    def __init__(self, cell, vocab, embed, hidden, layers, weight_norm=False):
        super().__init__()
        self.config = {"cell": cell, "weight_norm": bool(weight_norm), "vocab": vocab, "embed": embed, "hidden": hidden, "layers": layers}
        self.embed = nn.Embedding(vocab, embed)  # embed.weight [V,E]
        self.layers = nn.ModuleList(Cell(cell, embed if l == 0 else hidden, hidden, weight_norm) for l in range(layers))
        self.head = nn.Linear(hidden, vocab)  # head.weight [V,H], head.bias [V]

    def zero_state(self, batch):
        dtype = self.head.weight.dtype
        return [layer.zero_state(batch, dtype) for layer in self.layers]

    def forward(self, tokens, state=None):
        """tokens [T,B] (int) -> logits [T,B,V], final state (one (h, c) per layer)."""
        if state is None:
            state = self.zero_state(tokens.shape[1])
        xs = self.embed(tokens.long())
        new_state = []
        for layer, s in zip(self.layers, state):
            xs, s = layer(xs, s)
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
            for name, shape in layer.shapes.items():
                p = getattr(layer, name)
                if isinstance(p, WeightNormMatrix):
                    p.v.uniform_(-bound, bound, generator=generator)
                    p.g.copy_(p.v.norm(dim=1))
                else:
                    p.uniform_(-bound, bound, generator=generator)
            if layer.kind in ("mlstm", "lstm"):
                layer.bias[H : 2 * H] = 1.0
        model.head.weight.uniform_(-bound, bound, generator=generator)
        model.head.bias.uniform_(-bound, bound, generator=generator)


# ------------------------------------------------------------------ vocabulary (src/data/vocabulary.ts)
class Vocab:
    """`chars`: symbols in index order (code points); `bytes`: V = 256, a token per UTF-8 byte."""

    def __init__(self, symbols=None):
        self.kind = "bytes" if symbols is None else "chars"
        self.symbols = symbols
        self.index = None if symbols is None else {s: i for i, s in enumerate(symbols)}
        self.size = 256 if symbols is None else len(symbols)

    @staticmethod
    def of_text(text):
        """The distinct code points of the text, sorted by code point."""
        return Vocab(sorted(set(text)))

    def encode_file(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if self.kind == "bytes":
            return torch.tensor(list(data), dtype=torch.int64)
        return self.encode(decode_text(data, path), path)

    def encode(self, text, source="text"):
        if self.kind == "bytes":
            return torch.tensor(list(text.encode("utf-8")), dtype=torch.int64)
        try:
            return torch.tensor([self.index[ch] for ch in text], dtype=torch.int64)
        except KeyError as e:
            raise ValueError(f"{source}: character {e.args[0]!r} is not in the model's vocabulary of {self.size}") from None


def decode_text(data, source):
    """Strict UTF-8; a leading byte-order mark is dropped (as TextDecoder does)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{source}: not valid UTF-8 at byte offset {e.start}") from None


# ------------------------------------------------------------------ checkpoints (CONTRACT.md "Checkpoints")
def load_checkpoint(path, dtype=torch.float32):
    """-> (model in eval mode, Vocab, metadata). Tensors not named embed./layers./head. are ignored;
    every model parameter must be present with its contract shape."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: metadata format is {meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    cfg = json.loads(meta["config"])
    model = CharLM(cfg["cell"], cfg["vocab"], cfg["embed"], cfg["hidden"], cfg["layers"], cfg.get("weight_norm", False))
    if meta.get("tokenizer") is not None:
        if meta["tokenizer"] != "bytes" or cfg["vocab"] != 256:
            raise ValueError(f"{path}: tokenizer {meta['tokenizer']!r} with vocab {cfg['vocab']}")
        vocab = Vocab(None)
    else:
        vocab = Vocab(json.loads(meta["vocab"]))
        if vocab.size != cfg["vocab"]:
            raise ValueError(f"{path}: vocab has {vocab.size} symbols, config says {cfg['vocab']}")
    params = {k: v for k, v in tensors.items() if k.startswith(MODEL_PREFIXES)}
    expected = model.state_dict()
    if set(params) != set(expected):
        raise ValueError(f"{path}: missing {sorted(set(expected) - set(params))}, unexpected {sorted(set(params) - set(expected))}")
    for k, v in params.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise ValueError(f"{path}: '{k}' has shape {list(v.shape)}, expected {list(expected[k].shape)}")
    model.load_state_dict({k: v.to(torch.float32) for k, v in params.items()})
    model.to(dtype).eval()
    return model, vocab, meta


def save_checkpoint(path, model, vocab, extra_tensors=None, extra_metadata=None):
    """The contract's format: F32 parameters under their names, format/config/vocab|tokenizer metadata."""
    tensors = {k: v.detach().to(torch.float32) for k, v in model.state_dict().items()}
    for k, v in (extra_tensors or {}).items():
        if k.startswith(MODEL_PREFIXES):
            raise ValueError(f"save_checkpoint: extra tensor '{k}' uses a model name")
        tensors[k] = v
    meta = dict(extra_metadata or {})
    meta["format"] = CHECKPOINT_FORMAT
    meta["config"] = json.dumps(model.config)
    if vocab.kind == "bytes":
        meta["tokenizer"] = "bytes"
    else:
        meta["vocab"] = json.dumps(vocab.symbols)
    write_safetensors(path, tensors, meta)


# ------------------------------------------------------------------ bits per character (src/train/evaluate.ts)
@torch.no_grad()
def evaluate(model, tokens, batch=1, seq=256):
    """Mean cross-entropy of `tokens` with the state carried through each stream.

    As `mlstm eval`: B = min(batch, N // 2) contiguous streams of L = N // B tokens from a zero state
    (the last N - B*L tokens unused), each scoring its L - 1 next-token predictions; `seq` only sets
    the chunk size of a forward call. Returns dict(bpc, nats, predictions, streams)."""
    n = int(tokens.numel())
    if n < 2:
        raise ValueError(f"evaluate: need at least 2 tokens, got {n}")
    B = min(batch, n // 2)
    L = n // B
    streams = tokens[: B * L].reshape(B, L).T.contiguous()  # [L,B], column b = stream b
    scored = L - 1
    state = model.zero_state(B)
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, scored, seq):
        T = min(seq, scored - start)
        logits, state = model(streams[start : start + T], state)
        targets = streams[start + 1 : start + T + 1]
        ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
        total += ce.to(torch.float64)
    nats = float(total) / (B * scored)
    return {"bpc": nats / math.log(2), "nats": nats, "predictions": B * scored, "streams": B}
