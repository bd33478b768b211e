"""Write a randomly initialised CharLM as an mlstm checkpoint (the PyTorch -> mlstm direction, for tests).

    python3 -m mlstm_torch.write_random OUT --cell mlstm|lstm|mrnn [--weight-norm] --embed E --hidden H
        --layers L (--vocab-json '["a","b",...]' | --bytes) [--seed S] [--dump-logits TOKENS_JSON]

The weights are drawn so that every parameter matters (weight-norm gains away from ||v_row||, biases
non-zero). With --dump-logits, prints the logits of the [T][B] token array computed in float64 from
the checkpoint as written (F32), as `mlstm_torch.eval --dump-logits` would.
"""
import argparse
import json
import sys

import torch

from . import eval as eval_cli
from .checkpoint import save_checkpoint
from .model import CharLM
from .vocab import Vocab


def random_model(cell, vocab_size, embed, hidden, layers, weight_norm, generator):
    model = CharLM(cell, vocab_size, embed, hidden, layers, weight_norm)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".g"):
                p.copy_(torch.rand(p.shape, generator=generator) * 1.5 + 0.25)
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=generator) / p.shape[1] ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(prog="mlstm_torch.write_random", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--cell", choices=["mlstm", "lstm", "mrnn"], required=True)
    ap.add_argument("--weight-norm", action="store_true")
    ap.add_argument("--embed", type=int, required=True)
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--layers", type=int, default=1)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--vocab-json")
    g.add_argument("--bytes", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dump-logits", metavar="TOKENS_JSON")
    ap.add_argument("--eval-file", metavar="FILE",
                    help="with --dump-logits: also score FILE (batch --batch, seq --seq)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--writer", default="mlstm_torch", help="the `writer` metadata value")
    a = ap.parse_args(argv)
    vocab = Vocab(None) if a.bytes else Vocab(json.loads(a.vocab_json))
    gen = torch.Generator().manual_seed(a.seed)
    model = random_model(a.cell, vocab.size, a.embed, a.hidden, a.layers, a.weight_norm, gen)
    # An extra (non-model) tensor and metadata key: a reader must ignore both.
    save_checkpoint(a.out, model, vocab, extra_tensors={"optim.note": torch.arange(3, dtype=torch.int32)},
                    extra_metadata={"writer": a.writer})
    if a.dump_logits is not None:
        extra = [a.eval_file, "--batch", str(a.batch), "--seq", str(a.seq)] if a.eval_file else []
        return eval_cli.main([a.out, *extra, "--dump-logits", a.dump_logits])
    return 0


if __name__ == "__main__":
    sys.exit(main())
