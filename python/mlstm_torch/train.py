"""`mlstm train` in PyTorch, on one process or many (DistributedDataParallel).

    python3 -m mlstm_torch.train --data FILE --out FILE.safetensors [options]            one process
    torchrun --nproc_per_node N -m mlstm_torch.train --data FILE --out FILE [options]    N ranks (DDP)

The procedure is src/train/trainer.ts's, step for step: B contiguous streams of the training text read
in windows of T (mlstm_torch.data); the state carried (detached) between windows and reset to zero at the
start of every pass; mean cross-entropy; backward; the global gradient norm clipped (torch's
clip_grad_norm_, the contract's rule); Adam/AdamW at the scheduled learning rate; a step whose loss or
gradient norm is not finite changes nothing but still consumes its window, and --max-bad-steps of them in
a row stop the run. Validation bits/char every --valid-every steps and at the end (B streams of the
validation text, state carried through each, as src/train/evaluate.ts).

Distributed: rank r of N trains streams [r*B/N, (r+1)*B/N) (B must be divisible by N); every rank reads
the same window index at each step, computes the mean loss over its T*B/N predictions, and DDP averages
the gradients over the ranks, so the gradient is the mean over the global batch: N ranks x B/N streams
compute what 1 rank x B streams computes (to float rounding). The gradient norm is clipped after that
all-reduce (every rank holds the same averaged gradients, so every rank computes the same global norm and
takes the same step). Dropout masks are drawn for all B streams from one generator seeded the same on
every rank, and each rank keeps its rows. Rank 0 writes the checkpoints (atomically) in the contract's
format with the optimiser state, the carried state of all B streams (gathered from the ranks) and the data
cursor, in the layout `mlstm train --resume` reads; `--resume` here continues it (or a checkpoint of
`mlstm train`), on any number of ranks that divides B.
"""
import argparse
import contextlib
import gc
import json
import math
import os
import signal
import sys
import time

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from . import __version__
from .checkpoint import (CheckpointError, TrainState, checkpoint_contents, load_optimizer_tensors, model_from_tensors,
                         optimizer_tensors, read_train_state, train_state_contents)
from .data import DataError, WindowStreams, split_train_valid, stream_block, tokens_fingerprint
from .distributed import Distributed
from .dropout import MaskSampler
from .evaluate import LN2, eval_streams, evaluate_nats
from .model import CharLM, detach_state, init_like_mlstm
from .safetensors_io import (SafetensorsError, decode_safetensors, encode_safetensors, write_file_atomic,
                             write_safetensors)
from .schedule import make_schedule, schedule_spec, schedule_summary
from .vocab import Vocab, VocabularyError, build_vocabulary, decode_text

PROG = "mlstm_torch.train"
EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
DEFAULT_MAX_BAD_STEPS = 5
# Flags that set a saved training option: a resumed run keeps its options, except --steps.
RESUME_CHECKED = ("batch", "seq", "lr", "optimizer", "weight_decay", "schedule", "warmup", "clip", "valid_every",
                  "checkpoint_every", "max_bad_steps")
MODEL_FLAGS = ("cell", "hidden", "embed", "layers")


class UsageError(Exception):
    pass


class RunError(Exception):
    pass


def parser():
    ap = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0] + "\n\nFlags mirror `mlstm train`; defaults in parentheses.")
    a = ap.add_argument
    a("--data", required=True, metavar="FILE", help="training text; its last 5%% is the validation text unless --valid")
    a("--valid", metavar="FILE", help="validation text (then all of --data is trained on)")
    a("--out", required=True, metavar="FILE", help="checkpoint to write (rank 0 writes it, atomically)")
    a("--resume", action="store_true", help="continue the run saved in --out (written here or by mlstm train)")
    a("--init-from", metavar="CKPT", help="start a new run from this checkpoint's weights and vocabulary")
    a("--bytes", action="store_true", help="byte-level model (V = 256)")
    a("--cell", choices=["mlstm", "lstm", "mrnn"], help="cell (mlstm)")
    a("--weight-norm", action="store_true", help="weight-normalised matrices (mlstm only)")
    a("--hidden", type=int, help="hidden units per layer (128)")
    a("--embed", type=int, help="embedding size (32)")
    a("--layers", type=int, help="stacked layers (1)")
    a("--dropout", type=float, help="dropout between stacked layers, a new mask per step (0)")
    a("--embed-dropout", type=float, help="embedding dropout: whole characters per stream and window (0)")
    a("--hidden-dropout", type=float, help="variational hidden-state dropout, one mask per window (0)")
    a("--batch", type=int, help="parallel streams B of the global batch, divisible by the world size (32)")
    a("--seq", type=int, help="window length T (64)")
    a("--steps", type=int, help="total training steps (1000)")
    a("--lr", type=float, help="learning rate (3e-3)")
    a("--optimizer", choices=["adam", "adamw"], help="optimiser (adam)")
    a("--weight-decay", type=float, help="L2 for adam, decoupled for adamw (0)")
    a("--schedule", choices=["constant", "linear", "cosine"], help="learning-rate schedule (constant)")
    a("--warmup", type=int, help="linear warm-up steps (0)")
    a("--clip", type=float, help="clip the global gradient norm; 0 = off (1)")
    a("--seed", type=int, default=0, help="random seed of the initial weights and the dropout masks (0)")
    a("--valid-every", type=int, help="validate every N steps (5 times per run)")
    a("--checkpoint-every", type=int, help="save a checkpoint every N steps (as --valid-every)")
    a("--log-every", type=int, help="progress line every N steps (20 lines per run)")
    a("--max-bad-steps", type=int, help="stop after N non-finite steps in a row (5)")
    a("--threads", type=int, default=0, help="torch CPU threads per process (0: torch's default)")
    a("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: a GPU per rank when CUDA is there")
    a("--backend", choices=["auto", "nccl", "gloo"], default="auto", help="auto: nccl on GPUs, gloo on CPUs")
    a("--bf16", action="store_true", help="bf16 autocast of the matrix products (for GPUs; the state stays float32)")
    a("--dtype", choices=["float32", "float64"], default="float32", help="parameter and compute precision (float32)")
    a("--log-json", metavar="FILE", help="rank 0 appends one JSON line per step (loss, bpc, grad norm, lr)")
    a("--exact-out", metavar="FILE", help="also write the final parameters in the compute dtype (for comparisons)")
    a("--json", action="store_true", help="print a JSON summary as the last line")
    a("--version", action="version", version=f"%(prog)s {__version__} (torch {torch.__version__})")
    return ap


def check_ranges(a):
    for name, lo in (("hidden", 1), ("embed", 1), ("layers", 1), ("batch", 1), ("seq", 1), ("steps", 1),
                     ("warmup", 0), ("valid_every", 0), ("checkpoint_every", 0), ("log_every", 1),
                     ("max_bad_steps", 1), ("threads", 0)):
        v = getattr(a, name)
        if v is not None and v < lo:
            raise UsageError(f"--{name.replace('_', '-')} must be an integer >= {lo}, got {v}")
    for name in ("dropout", "embed_dropout", "hidden_dropout"):
        v = getattr(a, name)
        if v is not None and not 0 <= v < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1), got {v}")
    if a.lr is not None and not 0 < a.lr <= 10:
        raise UsageError(f"--lr must be in (0, 10], got {a.lr}")
    if a.clip is not None and not (0 <= a.clip < math.inf):
        raise UsageError(f"--clip must be a finite number >= 0, got {a.clip}")
    if a.weight_decay is not None and not 0 <= a.weight_decay <= 1:
        raise UsageError(f"--weight-decay must be in [0, 1], got {a.weight_decay}")
    if a.resume and a.init_from:
        raise UsageError("--resume and --init-from exclude each other (--resume continues --out itself)")
    if a.bf16 and a.dtype != "float32":
        raise UsageError("--bf16 autocasts a float32 model; it does not combine with --dtype float64")


def options_from_flags(a):
    """The JSON of src/train/options.ts, as src/cli/train-command.ts builds it from the same flags."""
    steps = a.steps if a.steps is not None else 1000
    batch = a.batch if a.batch is not None else 32
    lr = a.lr if a.lr is not None else 3e-3
    warmup = a.warmup if a.warmup is not None else 0
    valid_every = a.valid_every if a.valid_every is not None else max(1, math.ceil(steps / 5))
    return {
        "batch": batch,
        "seq": a.seq if a.seq is not None else 64,
        "steps": steps,
        "optimizer": {"name": a.optimizer or "adam", "lr": lr,
                      "weight_decay": a.weight_decay if a.weight_decay is not None else 0},
        "schedule": schedule_spec(a.schedule or "constant", lr, steps, warmup),
        "clip": a.clip if a.clip is not None else 1,
        "validEvery": valid_every,
        "validBatch": batch,
        "checkpointEvery": a.checkpoint_every if a.checkpoint_every is not None else valid_every,
        "maxBadSteps": a.max_bad_steps if a.max_bad_steps is not None else DEFAULT_MAX_BAD_STEPS,
    }


def resumed_options(a, saved, source):
    fresh = options_from_flags(a)
    keys = {"batch": ["batch"], "seq": ["seq"], "lr": ["optimizer", "schedule"], "optimizer": ["optimizer"],
            "weight_decay": ["optimizer"], "schedule": ["schedule"], "warmup": ["schedule"], "clip": ["clip"],
            "valid_every": ["validEvery"], "checkpoint_every": ["checkpointEvery"], "max_bad_steps": ["maxBadSteps"]}
    for flag in RESUME_CHECKED:
        if getattr(a, flag) is None:
            continue
        for key in keys[flag]:
            if not same_json(fresh[key], saved.get(key)):
                raise UsageError(f"--{flag.replace('_', '-')} differs from the run saved in '{source}'; a resumed run "
                                 "keeps its settings (only --steps may change)")
    return {**saved, "steps": a.steps if a.steps is not None else saved["steps"]}


def same_json(x, y):
    """Equal as JSON values (1 == 1.0, as JavaScript compares them)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same_json(x[k], y[k]) for k in x)
    if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
        return float(x) == float(y)
    return x == y


def make_optimizer(params, spec):
    name = spec.get("name")
    if name not in ("adam", "adamw"):
        raise RunError(f"optimizer {name!r} is not supported here (adam or adamw)")
    betas = (spec.get("beta1", 0.9), spec.get("beta2", 0.999))
    wd = spec.get("weight_decay", 0.0 if name == "adam" else 1e-2)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return cls(params, lr=spec["lr"], betas=betas, eps=spec.get("eps", 1e-8), weight_decay=wd,
               amsgrad=spec.get("amsgrad", False))


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise RunError(f"cannot read {what}: no such file") from None
    except IsADirectoryError:
        raise RunError(f"cannot read {what}: is a directory") from None
    except PermissionError:
        raise RunError(f"cannot read {what}: permission denied") from None
    if not data:
        raise RunError(f"{what} is empty")
    return data


def js_rng_state(seed, step):
    """Four non-zero uint32 for `mlstm train`'s dropout generator on resume (its stream differs from torch's
    anyway: SPEC-NOTES §1 fixes the definition of the masks, not the random bits)."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + step) % (2 ** 63))
    return [int(w) for w in torch.randint(1, 2 ** 32, (4,), generator=g, dtype=torch.int64)]


def mask_generator(seed):
    return torch.Generator().manual_seed((seed ^ 0x6D6C73746D) % (2 ** 63))  # "mlstm": its own stream


class Progress:
    """Rank 0's progress lines: `step k/S  train bpc X  N chars/s  ETA D` every `every` steps."""

    def __init__(self, every, chars_per_step):
        self.every, self.chars_per_step = every, chars_per_step
        self.seconds = 0.0
        self.steps = 0

    def record(self, step, steps, bpc, seconds):
        self.seconds += seconds
        self.steps += 1
        if step % self.every == 0 or step == steps:
            rate = self.chars_per_step * self.steps / self.seconds if self.seconds > 0 else 0.0
            eta = (steps - step) * self.seconds / self.steps
            w = len(str(steps))
            print(f"step {step:>{w}}/{steps}  train bpc {bpc:.4f}  {rate:,.0f} chars/s  ETA {duration(eta)}",
                  flush=True)
            self.seconds, self.steps = 0.0, 0


def duration(seconds):
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Trainer:
    def __init__(self, a, dist):
        self.a, self.dist = a, dist
        self.stop_requested = 0
        self.dtype = torch.float64 if a.dtype == "float64" else torch.float32
        if a.bf16 and dist.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise RunError("--bf16: this GPU does not support bfloat16 (it needs an Ampere or newer GPU); drop --bf16")
        self.prepare()

    # ---------------------------------------------------------------- setup (every rank, same decisions)
    def shared_checkpoint(self):
        """The checkpoint of --resume or --init-from, read by rank 0 and broadcast: on several nodes only rank 0's
        node needs it (the one that writes --out). The first collective of a run, so that no rank can fail
        before it; a failure to read is every rank's failure."""
        a, dist = self.a, self.dist
        path = a.out if a.resume else a.init_from
        if path is None:
            return None
        payload = None
        if dist.is_main:
            if a.resume and not os.path.exists(path):
                payload = ("error", f"cannot resume: --out '{path}' does not exist (train without --resume first)")
            else:
                try:
                    payload = ("ok", read_file(path, f"checkpoint '{path}'"))
                except RunError as e:
                    payload = ("error", str(e))
        payload = dist.broadcast_object(payload)
        if payload[0] == "error":
            raise RunError(payload[1])
        return decode_safetensors(payload[1], path)

    def prepare(self):
        a, dist = self.a, self.dist
        checkpoint = self.shared_checkpoint()
        data_bytes = read_file(a.data, f"--data '{a.data}'")
        valid_bytes = read_file(a.valid, f"--valid '{a.valid}'") if a.valid else None
        run = None
        if a.resume:
            tensors, meta = checkpoint
            model, vocab = model_from_tensors(tensors, meta, a.out)
            run = read_train_state(tensors, meta, model, a.out)
            if a.bytes != (vocab.kind == "bytes"):
                raise UsageError(f"--out '{a.out}' is a {'byte' if vocab.kind == 'bytes' else 'character'}-level "
                                 f"model; {'drop' if a.bytes else 'add'} --bytes to resume it")
            cfg = model.config
            for flag in MODEL_FLAGS:
                given = getattr(a, flag)
                if given is not None and given != cfg[flag]:
                    raise UsageError(f"--{flag} {given} does not match the model in '{a.out}' ({cfg[flag]})")
            if a.weight_norm and not cfg["weight_norm"]:
                raise UsageError(f"--weight-norm does not match the model in '{a.out}' (no weight norm)")
            for flag, saved in (("dropout", run.dropout), ("embed_dropout", run.embed_dropout),
                                ("hidden_dropout", run.hidden_dropout)):
                given = getattr(a, flag)
                if given is not None and given != saved:
                    raise UsageError(
                        f"--{flag.replace('_', '-')} {given} does not match the run in '{a.out}' ({saved})")
            self.resume_tensors = tensors
            self.options = resumed_options(a, run.options, a.out)
            dropouts = (run.dropout, run.embed_dropout, run.hidden_dropout)
        else:
            if a.init_from:
                tensors, meta = checkpoint
                model, vocab = model_from_tensors(tensors, meta, a.init_from)
                for flag in MODEL_FLAGS:
                    given = getattr(a, flag)
                    if given is not None and given != model.config[flag]:
                        raise UsageError(f"--{flag} {given} does not match the model in --init-from "
                                         f"'{a.init_from}' ({model.config[flag]})")
            else:
                if a.bytes:
                    vocab = Vocab(None)
                else:  # SPEC-NOTES §2: the training and the validation text, plus U+FFFD
                    texts = [decode_text(data_bytes, a.data)]
                    if valid_bytes is not None:
                        texts.append(decode_text(valid_bytes, a.valid))
                    vocab = build_vocabulary(*texts)
                cell = a.cell or "mlstm"
                if a.weight_norm and cell != "mlstm":
                    raise UsageError(f"--weight-norm is defined for the mlstm cell only, not {cell}")
                model = CharLM(cell, vocab.size, a.embed or 32, a.hidden or 128, a.layers or 1, a.weight_norm)
                init_like_mlstm(model, torch.Generator().manual_seed(a.seed))
            self.options = options_from_flags(a)
            dropouts = (a.dropout or 0.0, a.embed_dropout or 0.0, a.hidden_dropout or 0.0)
        self.saved = run
        self.dropout, self.embed_dropout, self.hidden_dropout = dropouts
        self.vocab = vocab
        unit = "bytes" if vocab.kind == "bytes" else "characters"
        self.unit = unit
        data = vocab.encode_bytes(data_bytes, a.data)
        if valid_bytes is not None:
            valid = vocab.encode_bytes(valid_bytes, a.valid)
            self.train_tokens, self.valid_tokens = data.tokens, valid.tokens
            self.unknown = {"train": data.unknown, "valid": valid.unknown}
        else:
            self.train_tokens, self.valid_tokens = split_train_valid(data.tokens)
            self.unknown = {"train": data.unknown, "valid": 0}
        if len(self.valid_tokens) < 2:
            raise RunError(f"the validation text has {len(self.valid_tokens)} {unit}; it needs at least 2 "
                           "(give a longer --data or a --valid FILE)")
        o = self.options
        B, T = o["batch"], o["seq"]
        self.lo, self.hi = stream_block(B, dist.world, dist.rank)
        source = f"--data '{a.data}'" if valid_bytes is not None else f"the training part of --data '{a.data}'"
        self.streams = WindowStreams(self.train_tokens, B, T, self.lo, self.hi, source, unit)
        self.fingerprint = tokens_fingerprint(self.train_tokens) if dist.is_main else None
        if run is not None and dist.is_main and run.data != self.fingerprint:
            raise RunError(f"{a.out}: the training text differs from the one this run was trained on (fingerprint "
                           f"{run.data}, now {self.fingerprint}); resume needs the same --data (and --valid)")
        self.model = model.to(device=dist.device, dtype=self.dtype).train()
        self.named_params = list(self.model.named_parameters())
        self.optimizer = make_optimizer([p for _, p in self.named_params], o["optimizer"])
        self.schedule = make_schedule(o["schedule"])
        self.masks = MaskSampler(mask_generator(a.seed), B, vocab.size, model.config["hidden"], model.config["layers"],
                                 self.embed_dropout, self.hidden_dropout, self.dropout, dist.device)
        self.step = self.updates = self.bad_in_a_row = 0
        self.history, self.validations = [], []
        self.carried = self.model.zero_state(self.hi - self.lo)
        if run is not None:
            self.restore(run)

    def restore(self, run):
        if run.options["batch"] != self.options["batch"] or run.options["seq"] != self.options["seq"]:
            raise RunError(f"{self.a.out}: batch/seq differ from the saved run")
        self.updates = load_optimizer_tensors(self.optimizer, self.named_params, self.resume_tensors, self.a.out)
        self.streams.seek(run.cursor)
        self.step, self.bad_in_a_row = run.step, run.bad_in_a_row
        self.history = [float(x) for x in run.history]
        self.validations = [list(v) for v in run.validations]
        dev, dt = self.dist.device, self.dtype
        self.carried = [(h[self.lo:self.hi].to(dev, dt), None if c is None else c[self.lo:self.hi].to(dev, dt))
                        for h, c in run.carried]
        if run.torch_rng is not None:
            self.masks.generator.set_state(run.torch_rng)
        else:  # a checkpoint of `mlstm train`: its generator cannot continue here, so seed ours for this step
            self.masks.generator.manual_seed((self.a.seed * 1_000_003 + run.step + 0x6D6C73746D) % (2 ** 63))

    # ---------------------------------------------------------------- the run
    def banner(self):
        c, o, d = self.model.config, self.options, self.dist
        params = sum(p.numel() for _, p in self.named_params)
        resume = f"resuming at step {self.step}: " if self.saved is not None else ""
        wn = "weight-normalised " if c["weight_norm"] else ""
        where = (f"DDP on {d.world} ranks x {(self.hi - self.lo)} streams ({d.backend}, {d.device.type})" if d.active
                 else f"one process ({d.device.type})")
        extras = [f"{self.a.dtype}" + (", bf16 autocast" if self.a.bf16 else "")]
        drops = [f"{n} {p:g}" for n, p in (("dropout", self.dropout), ("embed dropout", self.embed_dropout),
                                            ("hidden dropout", self.hidden_dropout)) if p > 0]
        print(f"{resume}{wn}{c['cell']} {c['layers']}x{c['hidden']} (embed {c['embed']}, {params:,} parameters), "
              f"vocabulary {self.vocab.size}; {len(self.train_tokens):,} training / {len(self.valid_tokens):,} "
              f"validation {self.unit}; batch {o['batch']} x seq {o['seq']}, {o['steps']} steps; "
              f"{schedule_summary(o['schedule'])}; {where}; {', '.join(extras + drops)}", flush=True)
        for part, n in self.unknown.items():
            if n:
                print(f"{n:,} {part} characters are not in the vocabulary and read as U+FFFD", flush=True)

    def train_step(self):
        """One window on every rank: forward, loss all-reduced, backward (DDP averages the gradients), clip on the
        global norm, update; or skip on every rank when the global loss or norm is not finite."""
        a, dist, o = self.a, self.dist, self.options
        inputs, targets, _, _, starts_epoch = self.streams.next()
        if starts_epoch:
            self.carried = self.model.zero_state(self.hi - self.lo)
        lr = self.schedule(self.step)
        masks = self.masks.draw(o["seq"], self.dtype)
        if masks is not None:
            masks = masks.streams(self.lo, self.hi)
        inputs, targets = inputs.to(dist.device), targets.to(dist.device)
        self.optimizer.zero_grad(set_to_none=True)
        autocast = (torch.autocast(device_type=dist.device.type, dtype=torch.bfloat16) if a.bf16
                    else contextlib.nullcontext())
        with autocast:
            logits, new_state = self.ddp(inputs, self.carried, masks)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        # One small all-reduce: the mean loss over the global batch (equal shares) and any rank's stop request.
        stats = torch.stack([loss.detach().to(torch.float64),
                             torch.tensor(float(self.stop_requested), dtype=torch.float64, device=dist.device)])
        dist.all_reduce_sum(stats)
        global_loss = float(stats[0]) / dist.world
        stop = float(stats[1]) > 0
        grad_norm = math.nan
        skipped = True
        if math.isfinite(global_loss):
            loss.backward()  # DDP: gradients averaged over the ranks before this returns
            clip = o["clip"] if o["clip"] > 0 else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
            if math.isfinite(grad_norm):
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                self.optimizer.step()
                self.updates += 1
                skipped = False
        if skipped:
            self.bad_in_a_row += 1
        else:
            self.bad_in_a_row = 0
            self.carried = detach_state(new_state)
        self.step += 1
        bpc = global_loss / LN2
        self.history.append(math.nan if skipped else bpc)
        return {"step": self.step, "loss": global_loss, "bpc": bpc, "grad_norm": grad_norm, "lr": lr,
                "skipped": skipped, "stop": stop}

    def validate(self):
        """Validation bits/char, the streams of the validation text shared among the ranks."""
        o, dist = self.options, self.dist
        B, _ = eval_streams(len(self.valid_tokens), o["validBatch"])
        lo, hi = dist.rank * B // dist.world, (dist.rank + 1) * B // dist.world
        self.model.eval()
        try:
            total, predictions = evaluate_nats(self.model, self.valid_tokens, o["validBatch"], o["seq"], lo, hi)
        finally:
            self.model.train()
        sums = dist.all_reduce_sum(torch.tensor([total, float(predictions)], dtype=torch.float64, device=dist.device))
        bpc = float(sums[0]) / float(sums[1]) / LN2
        if self.validations and self.validations[-1][0] == self.step:
            self.validations[-1][1] = bpc
        else:
            self.validations.append([self.step, bpc])
        if dist.is_main:
            print(f"step {self.step}: validation bpc {bpc:.4f}", flush=True)
        return bpc

    def save(self):
        """Every rank contributes its streams' carried state; rank 0 writes the checkpoint atomically."""
        dist = self.dist
        carried = [(dist.all_gather_cat(h.detach()), None if c is None else dist.all_gather_cat(c.detach()))
                   for h, c in self.carried]
        if not dist.is_main:
            return
        state = TrainState(
            step=self.step, updates=self.updates, cursor=self.streams.cursor, bad_in_a_row=self.bad_in_a_row,
            options=self.options, data=self.fingerprint, dropout=self.dropout, embed_dropout=self.embed_dropout,
            hidden_dropout=self.hidden_dropout, validations=self.validations,
            history=torch.tensor(self.history, dtype=torch.float32), carried=carried,
            rng=js_rng_state(self.a.seed, self.step), torch_rng=self.masks.generator.get_state(),
            extra={"writer": f"mlstm_torch {__version__}",
                   "torch": {"version": torch.__version__, "world_size": dist.world, "device": dist.device.type,
                             "dtype": self.a.dtype, "bf16": self.a.bf16}})
        extra_tensors = optimizer_tensors(self.optimizer, self.named_params, self.updates)
        train_tensors, train_meta = train_state_contents(state)
        extra_tensors.update(train_tensors)
        tensors, meta = checkpoint_contents(self.model, self.vocab, extra_tensors,
                                            {"writer": f"mlstm_torch {__version__}", **train_meta})
        out_dir = os.path.dirname(os.path.abspath(self.a.out))
        os.makedirs(out_dir, exist_ok=True)
        write_file_atomic(self.a.out, encode_safetensors(tensors, meta))

    def release(self):
        """Drops the DDP wrapper. Its reducer holds the process group, so while it lives
        destroy_process_group only unregisters the group, and the group (with gloo's threads) is torn down
        later, in whatever order the interpreter's exit frees things: seen as a rank aborting at exit with
        "terminate called without an active exception". Called before Distributed.close."""
        self.ddp = None
        gc.collect()

    def run(self):
        a, dist, o = self.a, self.dist, self.options
        steps = o["steps"]
        if self.step >= steps:
            if dist.is_main:
                print(f"'{a.out}' has already reached step {self.step} of {steps}; give a larger --steps to continue")
            return 0
        if dist.active:
            ids = [dist.local_rank] if dist.device.type == "cuda" else None
            self.ddp = DDP(self.model, device_ids=ids, broadcast_buffers=False)
        else:
            self.ddp = self.model
        if dist.is_main:
            self.banner()
        log_every = a.log_every or max(1, math.ceil(steps / 20))
        progress = Progress(log_every, o["batch"] * o["seq"])
        log = open(a.log_json, "a", encoding="utf-8") if a.log_json and dist.is_main else None
        started = time.perf_counter()
        valid_bpc = None
        status = "completed"
        try:
            while self.step < steps:
                t0 = time.perf_counter()
                r = self.train_step()
                seconds = time.perf_counter() - t0
                if dist.is_main:
                    progress.record(r["step"], steps, r["bpc"], seconds)
                    if log is not None:
                        record = {k: v for k, v in r.items() if k != "stop"}
                        log.write(json.dumps({**record, "seconds": seconds}) + "\n")
                        log.flush()
                if r["stop"]:
                    status = "interrupted"
                    break
                if r["skipped"]:
                    what = f"gradient norm {r['grad_norm']}" if math.isfinite(r["loss"]) else f"loss {r['loss']}"
                    if dist.is_main:
                        print(f"{PROG}: warning: step {r['step']}: {what} is not finite; update skipped "
                              f"({self.bad_in_a_row} in a row)", file=sys.stderr, flush=True)
                    if self.bad_in_a_row >= o["maxBadSteps"]:
                        raise RunError(f"training diverged: {self.bad_in_a_row} non-finite steps in a row (last "
                                       f"at step {r['step']}); the last good checkpoint is kept - try a lower --lr "
                                       "or --clip")
                    continue
                if self.step < steps:
                    if o["validEvery"] > 0 and self.step % o["validEvery"] == 0:
                        valid_bpc = self.validate()
                    if o["checkpointEvery"] > 0 and self.step % o["checkpointEvery"] == 0:
                        self.save()
            if status == "completed":
                if not self.validations or self.validations[-1][0] != self.step:
                    valid_bpc = self.validate()
                else:
                    valid_bpc = self.validations[-1][1]
            self.save()
        finally:
            if log is not None:
                log.close()
        elapsed = time.perf_counter() - started
        if a.exact_out and dist.is_main:
            write_safetensors(a.exact_out, {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                              {"config": json.dumps(self.model.config)}, atomic=True)
        dist.barrier()
        if not dist.is_main:
            return EXIT_INTERRUPTED if status == "interrupted" else 0
        if status == "interrupted":
            print(f"interrupted at step {self.step} after {duration(elapsed)}; saved '{a.out}' (continue with the "
                  "same command and --resume)", flush=True)
            return EXIT_INTERRUPTED
        valid = f"validation bpc {valid_bpc:.4f}; " if valid_bpc is not None else ""
        print(f"done: {self.step} steps in {duration(elapsed)}; {valid}saved '{a.out}'", flush=True)
        if a.json:
            print(json.dumps({"valid_bpc": valid_bpc, "validations": self.validations,
                              "final_train_bpc": self.history[-1] if self.history else None,
                              "skipped": sum(1 for x in self.history if math.isnan(x)), "seconds": elapsed,
                              "threads": torch.get_num_threads(), "seed": a.seed, "world_size": dist.world}))
        return 0


EXPECTED = (UsageError, RunError, CheckpointError, DataError, VocabularyError, SafetensorsError, OSError)


def install_signal_handlers(trainer):
    """Ctrl-C or SIGTERM: finish the step, save, exit 130; a second one later than 2 s after the first quits
    without saving. (At a terminal under torchrun every worker receives Ctrl-C's SIGINT and then the agent's
    copy of it: those two count as one.)"""
    first = []

    def handler(signum, frame):
        now = time.monotonic()
        if not first:
            first.append(now)
            trainer.stop_requested = 1
            if trainer.dist.is_main:
                sys.stderr.write(f"{PROG}: interrupted: saving a checkpoint after this step (again to quit without "
                                 "saving)\n")
        elif now - first[0] > 2.0:
            sys.stderr.write(f"{PROG}: interrupted again; exiting without saving\n")
            os._exit(EXIT_INTERRUPTED)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def main(argv=None):
    ap = parser()
    a = ap.parse_args(argv)
    dist, trainer = None, None
    try:
        check_ranges(a)
        if a.threads > 0:
            torch.set_num_threads(a.threads)
        try:
            dist = Distributed.from_env(a.device, a.backend)
        except (RuntimeError, ValueError) as e:
            raise RunError(f"cannot start: {e}") from None
        error, trainer = None, None
        try:
            trainer = Trainer(a, dist)
        except EXPECTED as e:
            error = e
        # Every rank learns whether any rank failed to start (the resume checks run on rank 0 only), so that no
        # rank waits forever in a collective for one that has left; rank 0 reports the first failure.
        errors = dist.gather_objects(None if error is None else (isinstance(error, UsageError), str(error)))
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            raise UsageError(failed[1]) if failed[0] else RunError(failed[1])
        install_signal_handlers(trainer)
        return trainer.run()
    except UsageError as e:
        if dist is None or dist.is_main:
            sys.stderr.write(f"{PROG}: {e}\n")
        return EXIT_USAGE
    except EXPECTED as e:
        if dist is None or dist.is_main:
            sys.stderr.write(f"{PROG}: {e}\n")
        return EXIT_FAILURE
    finally:
        if trainer is not None:
            trainer.release()
        if dist is not None:
            dist.close()


if __name__ == "__main__":
    sys.exit(main())
