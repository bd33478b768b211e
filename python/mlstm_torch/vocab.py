"""Vocabularies and the text <-> token mapping (docs/CONTRACT.md `vocab` / `tokenizer`; SPEC-NOTES §2).

- `chars`: symbols are Unicode code points, in the checkpoint's `vocab` order. A vocabulary built for
  training holds the distinct code points of the training text AND the validation text, plus the unknown
  symbol U+FFFD, sorted by code point (`build_vocabulary`). When a vocabulary holds U+FFFD, every character
  outside it encodes as U+FFFD and is counted; without it, such a character is an error naming it, its
  offset, line and column (as src/data/vocabulary.ts does).
- `bytes`: V = 256, a token per UTF-8 byte; never an unknown.
"""
from collections import namedtuple

import torch

UNKNOWN = "\ufffd"

Encoded = namedtuple("Encoded", ["tokens", "unknown"])
Encoded.__doc__ = "tokens: int64 tensor [N]; unknown: how many characters were outside the vocabulary (as U+FFFD)."


class VocabularyError(ValueError):
    pass


def describe_character(ch):
    """`'a' (U+0061)` for a printable character, `"\\n" (U+000A)` style for the rest (as the JS side)."""
    cp = ord(ch)
    code = f"U+{cp:04X}"
    printable = cp >= 0x20 and cp != 0x7F and not 0x80 <= cp < 0xA0
    if printable:
        return f"'{ch}' ({code})"
    escaped = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}.get(ch, f"\\u{cp:04x}")
    return f'"{escaped}" ({code})'


def decode_text(data, source):
    """Strict UTF-8; a leading byte-order mark is dropped (as TextDecoder does)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise VocabularyError(f"{source}: not valid UTF-8 at byte offset {e.start}") from None


def build_vocabulary(*texts, unknown=True):
    """The distinct code points of all `texts` (plus U+FFFD when `unknown`), sorted by code point."""
    seen = set()
    for text in texts:
        seen.update(text)
    if unknown:
        seen.add(UNKNOWN)
    return Vocab(sorted(seen))


class Vocab:
    """`Vocab(symbols)`: a character vocabulary in index order; `Vocab(None)`: bytes, V = 256."""

    def __init__(self, symbols=None):
        self.kind = "bytes" if symbols is None else "chars"
        self.symbols = None if symbols is None else list(symbols)
        self.size = 256 if symbols is None else len(self.symbols)
        self.index = None
        self.unknown_id = None
        if symbols is not None:
            if not self.symbols:
                raise VocabularyError("Vocab: the vocabulary is empty")
            self.index = {}
            for i, s in enumerate(self.symbols):
                if not isinstance(s, str) or len(s) != 1:
                    raise VocabularyError(f"Vocab: symbol {i} ({s!r}) is not a single character")
                if s in self.index:
                    raise VocabularyError(f"Vocab: symbols {self.index[s]} and {i} are both {describe_character(s)}")
                self.index[s] = i
            self.unknown_id = self.index.get(UNKNOWN)

    @staticmethod
    def of_text(text):
        """The distinct code points of the text, sorted (no unknown symbol): the vocabulary `mlstm train`
        built before SPEC-NOTES §2."""
        return build_vocabulary(text, unknown=False)

    def __eq__(self, other):
        return isinstance(other, Vocab) and self.kind == other.kind and self.symbols == other.symbols

    def __hash__(self):
        return hash((self.kind, tuple(self.symbols or ())))

    def encode(self, text, source="text"):
        """-> Encoded(tokens, unknown) for a str (bytes vocabulary: its UTF-8 bytes)."""
        if self.kind == "bytes":
            return Encoded(torch.tensor(list(text.encode("utf-8")), dtype=torch.int64), 0)
        index, unknown_id = self.index, self.unknown_id
        ids = [index.get(ch, -1) for ch in text]
        unknown = 0
        if -1 in ids:
            if unknown_id is None:
                raise self._unknown_character(text, ids.index(-1), source)
            unknown = ids.count(-1)
            ids = [unknown_id if i < 0 else i for i in ids]
        return Encoded(torch.tensor(ids, dtype=torch.int64), unknown)

    def encode_bytes(self, data, source="data"):
        """-> Encoded for raw file bytes: the bytes themselves (bytes vocabulary) or strict UTF-8 text."""
        if self.kind == "bytes":
            return Encoded(torch.tensor(list(data), dtype=torch.int64), 0)
        return self.encode(decode_text(data, source), source)

    def encode_file(self, path):
        with open(path, "rb") as f:
            return self.encode_bytes(f.read(), path)

    def decode(self, tokens):
        ids = [int(t) for t in tokens]
        bad = [t for t in ids if not 0 <= t < self.size]
        if bad:
            raise VocabularyError(f"Vocab.decode: token {bad[0]} is outside the vocabulary of {self.size}")
        if self.kind == "bytes":
            return bytes(ids).decode("utf-8", errors="replace")
        return "".join(self.symbols[t] for t in ids)

    def _unknown_character(self, text, offset, source):
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        return VocabularyError(
            f"{source}: character {describe_character(text[offset])} at offset {offset} (line {line}, column {column}) "
            f"is not in the model's vocabulary of {self.size} characters (it has no unknown symbol U+FFFD)"
        )
