"""mlstm_torch: the mlstm character language model in PyTorch, written from mlstm's docs/CONTRACT.md alone.

The same model as the mlstm JavaScript engine (mLSTM, LSTM and mRNN cells, weight norm, the contract's
parameter names and safetensors checkpoints), `mlstm train`'s procedure (contiguous streams, truncated
BPTT, clipping, Adam/AdamW, schedules, dropout as SPEC-NOTES §1 defines it), evaluation and dynamic
evaluation, and distributed training with DistributedDataParallel (`torchrun -m mlstm_torch.train`).
A checkpoint written here is what `mlstm sample`, `mlstm eval` and the browser demo read, and
`mlstm train --resume` continues it. Depends on torch only.
"""
__version__ = "0.1.0"

from .checkpoint import CHECKPOINT_FORMAT, CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from .data import WindowStreams, split_train_valid, stream_block, tokens_fingerprint  # noqa: E402
from .dropout import MaskSampler  # noqa: E402
from .evaluate import dynamic_evaluate, evaluate  # noqa: E402
from .model import Cell, CharLM, DropoutMasks, WeightNormMatrix, detach_state, init_like_mlstm  # noqa: E402
from .safetensors_io import SafetensorsError, read_safetensors, write_safetensors  # noqa: E402
from .vocab import UNKNOWN, Vocab, VocabularyError, build_vocabulary, decode_text  # noqa: E402

__all__ = [
    "CHECKPOINT_FORMAT", "Cell", "CharLM", "CheckpointError", "DropoutMasks", "MaskSampler", "SafetensorsError",
    "UNKNOWN", "Vocab", "VocabularyError", "WeightNormMatrix", "WindowStreams", "build_vocabulary", "decode_text",
    "detach_state", "dynamic_evaluate", "evaluate", "init_like_mlstm", "load_checkpoint", "read_safetensors",
    "save_checkpoint", "split_train_valid", "stream_block", "tokens_fingerprint", "write_safetensors",
]
