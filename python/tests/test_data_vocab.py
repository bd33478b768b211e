"""The vocabulary with its unknown symbol (SPEC-NOTES §2), the stream layout, schedules."""
import math
import unittest

import torch

from mlstm_torch.data import DataError, WindowStreams, split_train_valid, stream_block, tokens_fingerprint
from mlstm_torch.schedule import make_schedule, schedule_spec
from mlstm_torch.vocab import UNKNOWN, Vocab, VocabularyError, build_vocabulary


class Vocabulary(unittest.TestCase):
    def test_built_from_training_and_validation_text_with_the_unknown_symbol(self):
        v = build_vocabulary("banana\n", "cab&")
        self.assertEqual(v.symbols, sorted(["\n", "a", "b", "n", "c", "&", UNKNOWN]))
        self.assertEqual(v.unknown_id, v.symbols.index("\ufffd"))

    def test_a_replacement_character_in_the_text_is_the_same_symbol(self):
        v = build_vocabulary("a\ufffdb")
        self.assertEqual(v.symbols.count(UNKNOWN), 1)
        enc = v.encode("a\ufffdb")
        self.assertEqual(enc.unknown, 0)

    def test_unknown_characters_read_as_the_unknown_symbol_and_are_counted(self):
        v = build_vocabulary("abc")
        enc = v.encode("abxcy\U0001F642")
        u = v.index[UNKNOWN]
        self.assertEqual(enc.tokens.tolist(), [v.index["a"], v.index["b"], u, v.index["c"], u, u])
        self.assertEqual(enc.unknown, 3)

    def test_without_the_unknown_symbol_an_outside_character_is_a_clear_error(self):
        v = Vocab(["\n", "a", "b"])
        with self.assertRaises(VocabularyError) as ctx:
            v.encode("ab\naxb", "valid.txt")
        self.assertEqual(str(ctx.exception),
                         "valid.txt: character 'x' (U+0078) at offset 4 (line 2, column 2) is not in the model's "
                         "vocabulary of 3 characters (it has no unknown symbol U+FFFD)")
        with self.assertRaises(VocabularyError) as ctx:
            v.encode("a\tb")
        self.assertIn('"\\t" (U+0009) at offset 1', str(ctx.exception))

    def test_symbols_are_code_points(self):
        v = build_vocabulary("é\U0001F642a", unknown=False)
        self.assertEqual(v.symbols, ["a", "é", "\U0001F642"])
        self.assertEqual(v.encode("\U0001F642é").tokens.tolist(), [2, 1])

    def test_bytes_never_have_unknowns(self):
        v = Vocab(None)
        enc = v.encode_bytes("é\ufffd".encode("utf-8"))
        self.assertEqual(enc.tokens.tolist(), list("é\ufffd".encode("utf-8")))
        self.assertEqual(enc.unknown, 0)
        self.assertEqual(v.size, 256)

    def test_invalid_utf8_names_the_offset(self):
        with self.assertRaises(VocabularyError) as ctx:
            build_vocabulary("ab").encode_bytes(b"ab\xff", "x.txt")
        self.assertEqual(str(ctx.exception), "x.txt: not valid UTF-8 at byte offset 2")


class Streams(unittest.TestCase):
    def test_windows_are_the_contiguous_streams_of_mlstm_train(self):
        tokens = torch.arange(103)
        s = WindowStreams(tokens, batch=4, seq=5)  # L = 25, W = (25 - 1) // 5 = 4
        self.assertEqual((s.stream_length, s.windows_per_epoch), (25, 4))
        seen = []
        for k in range(9):
            inputs, targets, epoch, window, starts = s.next()
            self.assertEqual((epoch, window, starts), (k // 4, k % 4, k % 4 == 0))
            for b in range(4):
                start = b * 25 + window * 5
                self.assertEqual(inputs[:, b].tolist(), list(range(start, start + 5)))
                self.assertEqual(targets[:, b].tolist(), list(range(start + 1, start + 6)))
            seen.append(window)
        self.assertEqual(s.cursor, {"epoch": 2, "window": 1})

    def test_ranks_split_the_streams_into_blocks_whose_union_is_the_batch(self):
        tokens = torch.randint(0, 50, (997,), generator=torch.Generator().manual_seed(1))
        whole = WindowStreams(tokens, 6, 7)
        parts = [WindowStreams(tokens, 6, 7, *stream_block(6, 3, r)) for r in range(3)]
        for _ in range(whole.windows_per_epoch + 2):
            x, y, *_ = whole.next()
            got = [p.next() for p in parts]
            self.assertTrue(torch.equal(torch.cat([g[0] for g in got], dim=1), x))
            self.assertTrue(torch.equal(torch.cat([g[1] for g in got], dim=1), y))
        self.assertEqual([stream_block(8, 4, r) for r in range(4)], [(0, 2), (2, 4), (4, 6), (6, 8)])
        with self.assertRaises(DataError):
            stream_block(6, 4, 0)

    def test_seek_and_short_text(self):
        s = WindowStreams(torch.arange(50), 2, 4)
        s.seek({"epoch": 3, "window": 2})
        x, _, epoch, window, _ = s.next()
        self.assertEqual((epoch, window, x[:, 1].tolist()), (3, 2, [33, 34, 35, 36]))
        with self.assertRaises(DataError):
            s.seek({"epoch": 0, "window": 6})
        with self.assertRaises(DataError) as ctx:
            WindowStreams(torch.arange(9), 2, 4)
        self.assertIn("shorter than one window: 9 characters make 2 streams of 4", str(ctx.exception))

    def test_split_and_fingerprint(self):
        train, valid = split_train_valid(torch.arange(101))
        self.assertEqual((len(train), len(valid)), (96, 5))
        # FNV-1a 32 of the int32 little-endian bytes, as src/data/split.ts (empty: the offset basis)
        self.assertEqual(tokens_fingerprint(torch.zeros(0, dtype=torch.int64)), "0:811c9dc5")
        h = 0x811C9DC5
        for byte in (1, 0, 0, 0, 0, 1, 0, 0):
            h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
        self.assertEqual(tokens_fingerprint(torch.tensor([1, 256])), f"2:{h:08x}")
        # the shortcut for tokens < 256 against four bytes per token
        tokens = [3, 200, 0, 83, 255, 1]
        h = 0x811C9DC5
        for t in tokens:
            for byte in t.to_bytes(4, "little"):
                h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
        self.assertEqual(tokens_fingerprint(torch.tensor(tokens)), f"6:{h:08x}")


class Schedules(unittest.TestCase):
    def test_as_mlstm_train_builds_them(self):
        self.assertEqual(schedule_spec("constant", 0.1, 100, 0), {"kind": "constant", "lr": 0.1})
        spec = schedule_spec("cosine", 0.1, 100, 10)
        self.assertEqual(spec, {"kind": "warmup", "steps": 10, "then": {"kind": "cosine", "lr": 0.1, "steps": 90}})
        f = make_schedule(spec)
        self.assertAlmostEqual(f(0), 0.01)
        self.assertAlmostEqual(f(9), 0.1)
        self.assertAlmostEqual(f(10), 0.1)
        self.assertAlmostEqual(f(10 + 45), 0.05)
        self.assertEqual(f(100), 0.0)
        lin = make_schedule(schedule_spec("linear", 0.2, 10, 0))
        self.assertAlmostEqual(lin(5), 0.1)
        self.assertEqual(lin(10), 0.0)
        self.assertTrue(math.isclose(make_schedule({"kind": "constant", "lr": 3e-3})(12345), 3e-3))
        with self.assertRaises(ValueError):
            make_schedule({"kind": "step"})


if __name__ == "__main__":
    unittest.main()
