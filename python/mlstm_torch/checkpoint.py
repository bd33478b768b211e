"""Checkpoints in the contract's format (docs/CONTRACT.md "Checkpoints"), and the training state that rides
along in them in the layout `mlstm train` writes and reads (src/train/state.ts, src/optim/optimizer.ts):

- model: F32 parameters under the contract's names; metadata `format`, `config`, `vocab` | `tokenizer`;
- optimiser: `optim.step` (updates applied, F64 [1]), per parameter `optim.<name>.step` (F64 [1]) and
  `optim.<name>.exp_avg`, `optim.<name>.exp_avg_sq` (and `max_exp_avg_sq` with amsgrad) in F32;
- trainer: `train.state.<l>.h` / `.c` [B,H] (the carried state of every stream, F32), `train.bpc`
  [step] (training bits/char per step, NaN for skipped ones) and metadata `train` (JSON: version, step,
  cursor, badInARow, rng, data fingerprint, options, dropout, validations); the embedding and hidden
  dropout rates are `options.embedDropout` / `options.hiddenDropout`, present only when non-zero, where
  `mlstm train` keeps them (an older file of this package's had them at the top level: still read);
- this package's own additions, ignored by `mlstm train`: `train.torch_rng` (U8, the state of the
  dropout-mask generator) and the `train` keys `writer`, `torch`.
"""
import json
import math

import torch

from .model import CharLM
from .safetensors_io import read_safetensors, write_safetensors
from .vocab import Vocab

CHECKPOINT_FORMAT = "mlstm-charlm/1"
MODEL_PREFIXES = ("embed.", "layers.", "head.")
TRAIN_STATE_VERSION = 1
OPTIM_PREFIX = "optim."
TRAIN_PREFIX = "train."
ADAM_BUFFERS = ("exp_avg", "exp_avg_sq")


class CheckpointError(ValueError):
    pass


# ------------------------------------------------------------------ the model
def model_from_tensors(tensors, meta, source, dtype=torch.float32):
    """-> (model, Vocab) from a checkpoint's tensors and metadata; every model parameter must be present with
    its contract shape; tensors not named embed./layers./head. are ignored."""
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{source}: metadata format is {meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    try:
        cfg = json.loads(meta["config"])
        model = CharLM(cfg["cell"], cfg["vocab"], cfg["embed"], cfg["hidden"], cfg["layers"],
                       cfg.get("weight_norm", False))
    except (KeyError, TypeError, json.JSONDecodeError, ValueError) as e:
        raise CheckpointError(f"{source}: bad config metadata ({e})") from None
    if meta.get("tokenizer") is not None:
        if meta["tokenizer"] != "bytes" or cfg["vocab"] != 256:
            raise CheckpointError(f"{source}: tokenizer {meta['tokenizer']!r} with vocab {cfg['vocab']}")
        vocab = Vocab(None)
    else:
        try:
            vocab = Vocab(json.loads(meta["vocab"]))
        except (KeyError, json.JSONDecodeError, ValueError) as e:
            raise CheckpointError(f"{source}: bad vocab metadata ({e})") from None
        if vocab.size != cfg["vocab"]:
            raise CheckpointError(f"{source}: vocab has {vocab.size} symbols, config says {cfg['vocab']}")
    params = {k: v for k, v in tensors.items() if k.startswith(MODEL_PREFIXES)}
    expected = model.state_dict()
    if set(params) != set(expected):
        raise CheckpointError(f"{source}: missing {sorted(set(expected) - set(params))}, "
                              f"unexpected {sorted(set(params) - set(expected))}")
    for k, v in params.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise CheckpointError(f"{source}: '{k}' has shape {list(v.shape)}, expected {list(expected[k].shape)}")
    model.load_state_dict({k: v.to(torch.float32) for k, v in params.items()})
    return model.to(dtype), vocab


def load_checkpoint(path, dtype=torch.float32):
    """-> (model in eval mode, Vocab, metadata)."""
    tensors, meta = read_safetensors(path)
    model, vocab = model_from_tensors(tensors, meta, path, dtype)
    return model.eval(), vocab, meta


def checkpoint_contents(model, vocab, extra_tensors=None, extra_metadata=None):
    """-> (tensors, metadata) of the contract's format: F32 parameters under their names, then the extras."""
    tensors = {k: v.detach().to(torch.float32).cpu() for k, v in model.state_dict().items()}
    for k, v in (extra_tensors or {}).items():
        if k.startswith(MODEL_PREFIXES) or k in tensors:
            raise CheckpointError(f"save_checkpoint: extra tensor '{k}' uses a model name")
        tensors[k] = v
    meta = {}
    for k, v in (extra_metadata or {}).items():
        if k in ("format", "config", "vocab", "tokenizer"):
            raise CheckpointError(f"save_checkpoint: metadata key '{k}' is reserved")
        meta[k] = v
    meta["format"] = CHECKPOINT_FORMAT
    meta["config"] = json.dumps(model.config)
    if vocab.kind == "bytes":
        meta["tokenizer"] = "bytes"
    else:
        meta["vocab"] = json.dumps(vocab.symbols, ensure_ascii=False)
    return tensors, meta


def save_checkpoint(path, model, vocab, extra_tensors=None, extra_metadata=None, atomic=False):
    tensors, meta = checkpoint_contents(model, vocab, extra_tensors, extra_metadata)
    write_safetensors(path, tensors, meta, atomic=atomic)


# ------------------------------------------------------------------ the optimiser (torch.optim.Adam/AdamW <-> optim.*)
def optimizer_tensors(optimizer, named_params, updates):
    """torch Adam/AdamW state -> the `optim.*` tensors of src/optim/optimizer.ts (names, not indices)."""
    amsgrad = optimizer.param_groups[0].get("amsgrad", False)
    buffers = ADAM_BUFFERS + (("max_exp_avg_sq",) if amsgrad else ())
    out = {f"{OPTIM_PREFIX}step": torch.tensor([float(updates)], dtype=torch.float64)}
    for name, p in named_params:
        state = optimizer.state.get(p, {})
        steps = float(state["step"]) if "step" in state else 0.0
        out[f"{OPTIM_PREFIX}{name}.step"] = torch.tensor([steps], dtype=torch.float64)
        for b in buffers:
            t = state.get(b)
            t = torch.zeros(p.shape) if t is None else t.detach()
            out[f"{OPTIM_PREFIX}{name}.{b}"] = t.to(torch.float32).cpu()
    return out


def load_optimizer_tensors(optimizer, named_params, tensors, source):
    """The inverse of `optimizer_tensors`: -> the number of updates (`optim.step`). Checks every key and shape
    first (and refuses keys of another optimiser) so that nothing changes unless everything fits."""
    amsgrad = optimizer.param_groups[0].get("amsgrad", False)
    buffers = ADAM_BUFFERS + (("max_exp_avg_sq",) if amsgrad else ())
    expected = {f"{OPTIM_PREFIX}step"}
    for name, _ in named_params:
        expected.add(f"{OPTIM_PREFIX}{name}.step")
        expected.update(f"{OPTIM_PREFIX}{name}.{b}" for b in buffers)
    present = {k for k in tensors if k.startswith(OPTIM_PREFIX)}
    if expected - present:
        raise CheckpointError(f"{source}: missing optimiser state {sorted(expected - present)}")
    if present - expected:
        raise CheckpointError(f"{source}: unexpected optimiser state {sorted(present - expected)} "
                              "(saved by an optimiser of another kind, options or parameter set?)")

    def count(key):
        t = tensors[key]
        v = float(t.reshape(-1)[0]) if t.numel() == 1 else math.nan
        if not (v >= 0 and v == int(v)):
            raise CheckpointError(f"{source}: '{key}' must be one non-negative integer")
        return int(v)

    new_state = {}
    for name, p in named_params:
        steps = count(f"{OPTIM_PREFIX}{name}.step")
        entry = {"step": torch.tensor(float(steps))}
        for b in buffers:
            t = tensors[f"{OPTIM_PREFIX}{name}.{b}"]
            if tuple(t.shape) != tuple(p.shape):
                raise CheckpointError(f"{source}: '{OPTIM_PREFIX}{name}.{b}' has shape {list(t.shape)}, "
                                      f"parameter '{name}' has {list(p.shape)}")
            entry[b] = t.to(device=p.device, dtype=p.dtype).clone()
        if steps > 0:
            new_state[p] = entry
    updates = count(f"{OPTIM_PREFIX}step")
    optimizer.state.clear()
    for p, entry in new_state.items():
        optimizer.state[p] = entry
    return updates


# ------------------------------------------------------------------ the trainer's state (src/train/state.ts)
class TrainState:
    """Everything a resumed run needs besides the model and the optimiser moments.

    step: steps done (skipped ones included); updates: optimiser updates applied; cursor {epoch, window};
    bad_in_a_row; options: the JSON of src/train/options.ts (batch, seq, steps, optimizer, schedule, clip,
    validEvery, validBatch, checkpointEvery, maxBadSteps); data: the training tokens' fingerprint;
    dropout / embed_dropout / hidden_dropout; validations [[step, bpc]]; history: float32 [step];
    carried: per layer (h [B,H], c [B,H] or None); rng: four uint32 for mlstm's generator or None;
    torch_rng: this package's mask-generator state (uint8 tensor) or None."""

    def __init__(self, **fields):
        self.step = fields.get("step", 0)
        self.updates = fields.get("updates", 0)
        self.cursor = fields.get("cursor", {"epoch": 0, "window": 0})
        self.bad_in_a_row = fields.get("bad_in_a_row", 0)
        self.options = fields["options"]
        self.data = fields["data"]
        self.dropout = fields.get("dropout", 0.0)
        self.embed_dropout = fields.get("embed_dropout", 0.0)
        self.hidden_dropout = fields.get("hidden_dropout", 0.0)
        self.validations = fields.get("validations", [])
        self.history = fields.get("history", torch.zeros(0))
        self.carried = fields.get("carried")
        self.rng = fields.get("rng")
        self.torch_rng = fields.get("torch_rng")
        self.extra = fields.get("extra", {})


def train_state_contents(state):
    """TrainState -> (tensors, metadata) as src/train/state.ts's exportTrainerState writes them."""
    tensors = {}
    for l, (h, c) in enumerate(state.carried):
        tensors[f"{TRAIN_PREFIX}state.{l}.h"] = h.detach().to(torch.float32).cpu()
        if c is not None:
            tensors[f"{TRAIN_PREFIX}state.{l}.c"] = c.detach().to(torch.float32).cpu()
    tensors[f"{TRAIN_PREFIX}bpc"] = state.history.to(torch.float32).cpu()
    if state.torch_rng is not None:
        tensors[f"{TRAIN_PREFIX}torch_rng"] = state.torch_rng
    meta = {
        "version": TRAIN_STATE_VERSION,
        "step": state.step,
        "cursor": state.cursor,
        "badInARow": state.bad_in_a_row,
        "rng": state.rng,
        "data": state.data,
        "options": _with_window_dropout(state.options, state.embed_dropout, state.hidden_dropout),
        "dropout": state.dropout,
        "validations": state.validations,
        **state.extra,
    }
    return tensors, {"train": json.dumps(meta)}


def _with_window_dropout(options, embed, hidden):
    """`options` with the window dropouts as `mlstm train` writes them: keys only for non-zero rates."""
    out = {k: v for k, v in options.items() if k not in ("embedDropout", "hiddenDropout")}
    if embed > 0:
        out["embedDropout"] = embed
    if hidden > 0:
        out["hiddenDropout"] = hidden
    return out


def read_train_state(tensors, metadata, model, source):
    """The `train` metadata and `train.*` tensors of a checkpoint (written by `mlstm train` or by this package)
    -> TrainState, with every field and shape checked; errors name the source."""
    raw = metadata.get("train")
    if raw is None:
        raise CheckpointError(f"{source} has no training state (it was not written by mlstm train or "
                              "mlstm_torch.train), so it cannot be resumed")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise CheckpointError(f"{source}: the training state in its metadata is not valid JSON") from None
    ok = (isinstance(meta, dict) and meta.get("version") == TRAIN_STATE_VERSION
          and isinstance(meta.get("step"), int) and meta["step"] >= 0
          and isinstance(meta.get("badInARow"), int) and isinstance(meta.get("data"), str)
          and isinstance(meta.get("cursor"), dict) and isinstance(meta.get("options"), dict)
          and isinstance(meta.get("validations"), list) and isinstance(meta.get("dropout"), (int, float))
          and (meta.get("rng") is None or (isinstance(meta["rng"], list) and len(meta["rng"]) == 4)))
    if not ok:
        raise CheckpointError(f"{source}: the training state in its metadata is malformed or of an unknown "
                              f"version (expected version {TRAIN_STATE_VERSION})")
    options = meta["options"]
    for key in ("batch", "seq", "steps", "validEvery", "validBatch", "checkpointEvery", "maxBadSteps"):
        if not isinstance(options.get(key), int):
            raise CheckpointError(f"{source}: training option '{key}' is missing or not an integer")
    B = options["batch"]
    carried = []
    for l, layer in enumerate(model.layers):
        def read(part):
            key = f"{TRAIN_PREFIX}state.{l}.{part}"
            t = tensors.get(key)
            if t is None:
                raise CheckpointError(f"{source}: missing training tensor '{key}'")
            if tuple(t.shape) != (B, layer.hidden):
                raise CheckpointError(f"{source}: training tensor '{key}' has shape {list(t.shape)}, "
                                      f"expected {[B, layer.hidden]}")
            return t.to(torch.float32)

        carried.append((read("h"), None if layer.kind == "mrnn" else read("c")))
    history = tensors.get(f"{TRAIN_PREFIX}bpc")
    if history is None or history.dim() != 1 or history.numel() != meta["step"]:
        raise CheckpointError(f"{source}: training tensor '{TRAIN_PREFIX}bpc' is missing or does not have "
                              f"{meta['step']} entries")
    updates = tensors.get(f"{OPTIM_PREFIX}step")
    known = {"version", "step", "cursor", "badInARow", "rng", "data", "options", "dropout", "validations",
             "embedDropout", "hiddenDropout"}
    return TrainState(
        step=meta["step"], cursor=meta["cursor"], bad_in_a_row=meta["badInARow"], options=options,
        data=meta["data"], dropout=float(meta["dropout"]), embed_dropout=float(options.get("embedDropout", meta.get("embedDropout", 0.0))),
        hidden_dropout=float(options.get("hiddenDropout", meta.get("hiddenDropout", 0.0))),
        validations=[[int(s), float(b)] for s, b in meta["validations"]], history=history.to(torch.float32),
        carried=carried, rng=meta["rng"], torch_rng=tensors.get(f"{TRAIN_PREFIX}torch_rng"),
        updates=0 if updates is None else int(float(updates.reshape(-1)[0])),
        extra={k: v for k, v in meta.items() if k not in known})
