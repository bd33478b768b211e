"""mlstm_torch.train in one process: resume = uninterrupted, skipped steps, errors as one line.
(The multi-process checks, and those against `mlstm train`, are in test/torch-ddp.test.ts.)"""
import contextlib
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import torch

from mlstm_torch import eval as eval_cli
from mlstm_torch import train
from mlstm_torch.checkpoint import save_checkpoint
from mlstm_torch.model import CharLM
from mlstm_torch.safetensors_io import read_safetensors
from mlstm_torch.vocab import build_vocabulary

TINY = ["--hidden", "10", "--embed", "5", "--layers", "2", "--batch", "4", "--seq", "9", "--lr", "0.01",
        "--log-every", "100", "--threads", "1"]
DROPOUT = ["--dropout", "0.2", "--embed-dropout", "0.1", "--hidden-dropout", "0.25"]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = train.main(argv)
    return code, out.getvalue(), err.getvalue()


def losses(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


class Train(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mlstm-torch-test-")
        rnd = random.Random(3)
        words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog"]
        cls.corpus = os.path.join(cls.dir, "corpus.txt")
        with open(cls.corpus, "w") as f:
            f.write(" ".join(rnd.choice(words) for _ in range(900)))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_resumed_run_computes_what_the_uninterrupted_run_computes(self):
        # float32: the checkpoint stores F32 parameters, moments and carried state (the layout of mlstm train), so
        # a float32 run resumes bit for bit (a float64 run would resume from values rounded to float32).
        common = ["--data", self.corpus, *TINY, *DROPOUT, "--valid-every", "4", "--seed", "7"]
        whole = self.path("whole.safetensors")
        code, out, err = run([*common, "--steps", "14", "--out", whole, "--log-json", self.path("whole.jsonl"),
                              "--exact-out", self.path("whole.exact")])
        self.assertEqual(code, 0, err)
        part = self.path("part.safetensors")
        self.assertEqual(run([*common, "--steps", "6", "--out", part, "--log-json", self.path("part.jsonl")])[0], 0)
        code, out, err = run([*common, "--steps", "14", "--out", part, "--resume",
                              "--log-json", self.path("part.jsonl"), "--exact-out", self.path("part.exact")])
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith("resuming at step 6: "), out)
        a, b = losses(self.path("whole.jsonl")), losses(self.path("part.jsonl"))
        self.assertEqual([r["step"] for r in b], list(range(1, 15)))
        self.assertEqual([r["loss"] for r in a], [r["loss"] for r in b])  # bit for bit
        wa, _ = read_safetensors(self.path("whole.exact"))
        wb, _ = read_safetensors(self.path("part.exact"))
        for k in wa:
            self.assertTrue(torch.equal(wa[k], wb[k]), k)
        ta, ma = read_safetensors(whole)
        tb, mb = read_safetensors(part)
        # the interrupted run also validated at its last step, 6
        resumed = [v for v in json.loads(mb["train"])["validations"] if v[0] != 6]
        self.assertEqual(json.loads(ma["train"])["validations"], resumed)
        self.assertTrue(torch.equal(ta["train.bpc"], tb["train.bpc"]))

    def test_interrupted_run_saves_and_resumes_to_what_the_uninterrupted_run_computes(self):
        """SIGINT (Ctrl-C) finishes the step, saves, exits 130; --resume then continues bit for bit."""
        common = ["--data", self.corpus, *TINY, *DROPOUT, "--steps", "400", "--valid-every", "200", "--log-every", "1"]
        whole = self.path("sig-whole.jsonl")
        self.assertEqual(run([*common, "--out", self.path("sig-whole.safetensors"), "--log-json", whole])[0], 0)
        out, log = self.path("sig.safetensors"), self.path("sig.jsonl")
        env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
        child = subprocess.Popen([sys.executable, "-m", "mlstm_torch.train", *common, "--out", out, "--log-json", log],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        first = child.stdout.readline()
        self.assertIn("step", first)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=120)
        self.assertEqual(child.returncode, 130, stderr)
        self.assertIn("interrupted: saving a checkpoint after this step", stderr)
        self.assertRegex(stdout, r"interrupted at step \d+ after .*; saved ")
        stopped = json.loads(read_safetensors(out)[1]["train"])["step"]
        self.assertLess(stopped, 400)
        self.assertEqual(run([*common, "--out", out, "--resume", "--log-json", log])[0], 0)
        self.assertEqual([r["loss"] for r in losses(log)], [r["loss"] for r in losses(whole)])

    def test_checkpoint_holds_what_mlstm_train_reads(self):
        out = self.path("layout.safetensors")
        self.assertEqual(run(["--data", self.corpus, *TINY, "--steps", "5", "--out", out, "--cell", "lstm"])[0], 0)
        t, meta = read_safetensors(out)
        state = json.loads(meta["train"])
        self.assertEqual(meta["format"], "mlstm-charlm/1")
        self.assertEqual(state["version"], 1)
        self.assertEqual(state["step"], 5)
        self.assertEqual(state["options"]["optimizer"], {"name": "adam", "lr": 0.01, "weight_decay": 0})
        self.assertEqual(state["options"]["schedule"], {"kind": "constant", "lr": 0.01})
        self.assertEqual(len(state["rng"]), 4)
        self.assertEqual(t["optim.step"].tolist(), [5.0])
        self.assertEqual(t["optim.layers.1.wh.step"].tolist(), [5.0])
        self.assertEqual(t["optim.layers.1.wh.exp_avg"].shape, t["layers.1.wh"].shape)
        self.assertEqual(tuple(t["train.state.1.c"].shape), (4, 10))
        self.assertEqual(t["train.bpc"].shape, (5,))
        self.assertIn("\ufffd", json.loads(meta["vocab"]))

    def test_non_finite_steps_are_skipped_and_a_diverged_run_keeps_no_checkpoint(self):
        with open(self.corpus) as f:
            vocab = build_vocabulary(f.read())
        model = CharLM("mlstm", vocab.size, 5, 10, 1)
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.1)
            model.head.bias[0] = math.inf
        bad = self.path("inf.safetensors")
        save_checkpoint(bad, model, vocab)
        out = self.path("diverged.safetensors")
        code, _, err = run(["--data", self.corpus, "--init-from", bad, "--batch", "4", "--seq", "9", "--steps", "20",
                            "--out", out, "--max-bad-steps", "3", "--log-json", self.path("diverged.jsonl")])
        self.assertEqual(code, 1)
        self.assertIn("training diverged: 3 non-finite steps in a row (last at step 3)", err)
        self.assertEqual(err.count("is not finite; update skipped"), 3)
        self.assertFalse(os.path.exists(out))
        self.assertTrue(all(r["skipped"] for r in losses(self.path("diverged.jsonl"))))

    def test_eval_reads_unknown_characters_as_the_unknown_symbol_and_counts_them(self):
        out = self.path("unknown.safetensors")
        self.assertEqual(run(["--data", self.corpus, *TINY, "--steps", "2", "--out", out])[0], 0)
        text = self.path("unknown.txt")
        with open(text, "w") as f:
            f.write("the cat sat on the mat, zebra & dog")  # ',', 'z', 'b', 'r', '&' are not in the corpus
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            self.assertEqual(eval_cli.main([out, text, "--json", "--dynamic"]), 0)
        result = json.loads(buffer.getvalue())
        self.assertEqual(result["unknown"], 5)
        self.assertEqual(result["predictions"], 34)
        self.assertTrue(math.isfinite(result["bpc"]) and math.isfinite(result["dynamic_bpc"]))

    def test_errors_are_one_line(self):
        base = ["--data", self.corpus, *TINY]
        out = self.path("errors.safetensors")
        self.assertEqual(run([*base, "--steps", "3", "--out", out])[0], 0)
        cases = [
            ([*base, "--steps", "6", "--out", out, "--resume", "--batch", "2"], 2,
             "--batch differs from the run saved"),
            ([*base, "--steps", "6", "--out", out, "--resume", "--hidden", "11"], 2, "--hidden 11 does not match"),
            ([*base, "--steps", "6", "--out", self.path("nothing.safetensors"), "--resume"], 1, "does not exist"),
            ([*base, "--steps", "2", "--out", out, "--resume", "--init-from", out], 2, "exclude each other"),
            ([*base, "--steps", "6", "--out", out, "--dropout", "1.5"], 2, "--dropout must be in [0, 1)"),
            (["--data", self.path("missing.txt"), "--out", out], 1, "cannot read --data"),
        ]
        other = self.path("other.txt")
        with open(self.corpus) as f, open(other, "w") as g:
            g.write(f.read()[::-1])
        cases.append((["--data", other, *TINY, "--steps", "6", "--out", out, "--resume"], 1,
                      "the training text differs from the one this run was trained on"))
        for argv, expected, message in cases:
            with self.subTest(message=message):
                code, _, err = run(argv)
                self.assertEqual(code, expected, err)
                self.assertIn(message, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
        code, stdout, _ = run([*base, "--steps", "3", "--out", out, "--resume"])
        self.assertEqual(code, 0)
        self.assertIn("has already reached step 3 of 3", stdout)


if __name__ == "__main__":
    unittest.main()
