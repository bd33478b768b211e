"""Dropout as SPEC-NOTES §1 defines it, checked against a reference written with explicit masks.

The reference below reads the definition literally, one stream and one step at a time with
matrix-vector products: stream b's embedding table is E_mask[b,:,None] * embed.weight; layer l's
recurrence reads M_l[b] * h_{t-1} (also for the carried-in state); its output is M_l[b] * h_t, then the
between-layer mask of step t; the carried state is the unmasked (h_T, c_T). The model (mlstm_torch.model)
computes whole windows with batched products and broadcast masks; both must agree, forward and backward.
"""
import math
import unittest

import torch

from mlstm_torch.dropout import MaskSampler, keep_mask
from mlstm_torch.evaluate import evaluate
from mlstm_torch.model import CharLM, DropoutMasks, WeightNormMatrix

F64 = torch.float64


def matrices(layer):
    """name -> the effective matrix (weight norm resolved) or bias of one layer."""
    out = {}
    for name in layer.shapes:
        p = getattr(layer, name)
        out[name] = p() if isinstance(p, WeightNormMatrix) else p
    return out


def sig(x):
    return 1.0 / (1.0 + torch.exp(-x))


def reference(model, tokens, state, masks):
    """-> (logits [T,B,V], final state) with explicit per-stream, per-step loops."""
    T, B = tokens.shape
    L, H = model.config["layers"], model.config["hidden"]
    kind = model.config["cell"]
    weights = [matrices(layer) for layer in model.layers]
    logits = [[None] * B for _ in range(T)]
    finals = [[None] * B for _ in range(L)]
    for b in range(B):
        table = model.embed.weight if masks.embed is None else masks.embed[b][:, None] * model.embed.weight
        h = [state[l][0][b] for l in range(L)]
        c = [None if state[l][1] is None else state[l][1][b] for l in range(L)]
        for t in range(T):
            x = table[int(tokens[t, b])]
            for l in range(L):
                w = weights[l]
                M = torch.ones(H, dtype=F64) if masks.hidden is None else masks.hidden[l][b]
                hr = M * h[l]
                if kind == "lstm":
                    z = torch.mv(w["wx"], x) + torch.mv(w["wh"], hr) + w["bias"]
                else:
                    m = torch.mv(w["wmx"], x) * torch.mv(w["wmh"], hr)
                    z = torch.mv(w["whx"], x) + torch.mv(w["whm"], m) + w["bias"]
                if kind == "mrnn":
                    h[l] = torch.tanh(z)
                else:
                    i, f, g, o = z[:H], z[H:2 * H], z[2 * H:3 * H], z[3 * H:]
                    c[l] = sig(f) * c[l] + sig(i) * torch.tanh(g)
                    h[l] = sig(o) * torch.tanh(c[l])
                x = M * h[l]
                if l < L - 1 and masks.between is not None:
                    x = x * masks.between[l][t, b]
            logits[t][b] = torch.mv(model.head.weight, x) + model.head.bias
        for l in range(L):
            finals[l][b] = (h[l], c[l])
    out = torch.stack([torch.stack(row) for row in logits])
    final = [(torch.stack([f[0] for f in finals[l]]),
              None if finals[l][0][1] is None else torch.stack([f[1] for f in finals[l]])) for l in range(L)]
    return out, final


def random_model(cell, weight_norm, seed, V=7, E=4, H=5, L=2):
    g = torch.Generator().manual_seed(seed)
    model = CharLM(cell, V, E, H, L, weight_norm).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".g"):
                p.copy_(torch.rand(p.shape, generator=g, dtype=F64) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g, dtype=F64) / math.sqrt(p.shape[-1]))
    return model


def random_masks(gen, T, B, V, H, L, pe=0.3, ph=0.4, pd=0.25):
    return DropoutMasks(
        keep_mask(torch.rand(B, V, generator=gen, dtype=F64), pe),
        [keep_mask(torch.rand(B, H, generator=gen, dtype=F64), ph) for _ in range(L)],
        [keep_mask(torch.rand(T, B, H, generator=gen, dtype=F64), pd) for _ in range(L - 1)])


def random_state(model, B, gen):
    def draw(layer):
        return torch.randn(B, layer.hidden, generator=gen, dtype=F64)

    return [(draw(layer), None if layer.kind == "mrnn" else draw(layer)) for layer in model.layers]


class MasksAgainstReference(unittest.TestCase):
    CASES = [("mlstm", False, 1), ("mlstm", True, 2), ("lstm", False, 3), ("mrnn", False, 4)]

    def check(self, cell, weight_norm, seed, masks_of):
        T, B, V, H, L = 6, 3, 7, 5, 2
        model = random_model(cell, weight_norm, seed, V=V, H=H, L=L)
        gen = torch.Generator().manual_seed(100 + seed)
        tokens = torch.randint(0, V, (T, B), generator=gen)
        state = random_state(model, B, gen)
        masks = masks_of(gen, T, B, V, H, L)
        upstream = torch.randn(T, B, V, generator=gen, dtype=F64)

        logits, final = model(tokens, state, masks)
        loss = (logits * upstream).sum() + sum(h.sum() for h, _ in final)
        grads = torch.autograd.grad(loss, list(model.parameters()))
        ref_logits, ref_final = reference(model, tokens, state, masks)
        ref_loss = (ref_logits * upstream).sum() + sum(h.sum() for h, _ in ref_final)
        ref_grads = torch.autograd.grad(ref_loss, list(model.parameters()))

        self.assertLess(float((logits - ref_logits).norm() / ref_logits.norm()), 1e-12)
        for (h, c), (rh, rc) in zip(final, ref_final):
            self.assertLess(float((h - rh).norm() / rh.norm()), 1e-12)
            if c is not None:
                self.assertLess(float((c - rc).norm() / rc.norm()), 1e-12)
        for (name, _), g, rg in zip(model.named_parameters(), grads, ref_grads):
            self.assertLess(float((g - rg).norm() / rg.norm()), 1e-12, name)
        return model, tokens, state, masks, logits

    def test_all_three_dropouts_every_cell(self):
        for cell, wn, seed in self.CASES:
            with self.subTest(cell=cell, weight_norm=wn):
                self.check(cell, wn, seed, random_masks)

    def test_each_dropout_alone(self):
        parts = {
            "embed": lambda g, T, B, V, H, L: DropoutMasks(
                embed=keep_mask(torch.rand(B, V, generator=g, dtype=F64), 0.5)),
            "hidden": lambda g, T, B, V, H, L: DropoutMasks(
                hidden=[keep_mask(torch.rand(B, H, generator=g, dtype=F64), 0.5) for _ in range(L)]),
            "between": lambda g, T, B, V, H, L: DropoutMasks(
                between=[keep_mask(torch.rand(T, B, H, generator=g, dtype=F64), 0.5) for _ in range(L - 1)]),
        }
        for name, masks_of in parts.items():
            with self.subTest(dropout=name):
                self.check("mlstm", False, 7, masks_of)

    def test_masks_change_the_output_and_no_masks_is_the_contract(self):
        """A mask of ones is no dropout; a real mask moves the logits (so the check above sees the masks)."""
        model, tokens, state, masks, logits = self.check("mlstm", False, 9, random_masks)
        plain, _ = model(tokens, state)
        ones = DropoutMasks(torch.ones_like(masks.embed), [torch.ones_like(m) for m in masks.hidden],
                            [torch.ones_like(m) for m in masks.between])
        same, _ = model(tokens, state, ones)
        self.assertEqual(float((same - plain).abs().max()), 0.0)
        self.assertGreater(float((logits - plain).norm() / plain.norm()), 1e-2)

    def test_embedding_dropout_drops_whole_characters_per_stream(self):
        """With stream 0's mask dropping character v, every position of stream 0 reading v sees a zero
        embedding (its layer-0 input projection is the bias alone), while stream 1 reading v does not."""
        T, B, V = 5, 2, 7
        model = random_model("lstm", False, 11, V=V, L=1)
        tokens = torch.tensor([[3, 3], [1, 3], [3, 2], [0, 3], [3, 3]])
        embed = torch.ones(B, V, dtype=F64)
        embed[0, 3] = 0.0
        captured = {}
        layer = model.layers[0]

        def keep_input(module, inputs, output):
            captured["xs"] = inputs[0]

        hook = layer.register_forward_hook(keep_input)
        model(tokens, None, DropoutMasks(embed=embed))
        hook.remove()
        xs = captured["xs"]
        for t in range(T):
            zero0 = float(xs[t, 0].abs().max()) == 0.0
            self.assertEqual(zero0, int(tokens[t, 0]) == 3)
            self.assertGreater(float(xs[t, 1].abs().max()), 0.0)


class Sampler(unittest.TestCase):
    def test_values_rates_and_shapes(self):
        B, V, H, L, T = 64, 50, 40, 3, 30
        s = MaskSampler(torch.Generator().manual_seed(5), B, V, H, L, 0.2, 0.3, 0.4)
        m = s.draw(T, torch.float64)
        for mask, p, shape in [(m.embed, 0.2, (B, V)), *[(h, 0.3, (B, H)) for h in m.hidden],
                               *[(d, 0.4, (T, B, H)) for d in m.between]]:
            self.assertEqual(tuple(mask.shape), shape)
            values = set(torch.unique(mask).tolist())
            self.assertEqual(values, {0.0, 1.0 / (1.0 - p)})
            n = mask.numel()
            dropped = float((mask == 0).sum())
            sd = math.sqrt(n * p * (1 - p))
            self.assertLess(abs(dropped - n * p), 5 * sd, f"dropped {dropped} of {n} at p={p}")
        self.assertEqual(len(m.hidden), L)
        self.assertEqual(len(m.between), L - 1)

    def test_new_masks_each_window_and_resumable(self):
        s = MaskSampler(torch.Generator().manual_seed(5), 8, 10, 6, 2, 0.5, 0.5, 0.5)
        first = s.draw(4, torch.float64)
        saved = s.generator.get_state()
        second = s.draw(4, torch.float64)
        self.assertFalse(torch.equal(first.embed, second.embed))
        self.assertFalse(torch.equal(first.hidden[0], second.hidden[0]))
        self.assertFalse(torch.equal(first.between[0], second.between[0]))
        s.generator.set_state(saved)
        again = s.draw(4, torch.float64)
        for a, b in [(second.embed, again.embed), (second.hidden[1], again.hidden[1]),
                     (second.between[0], again.between[0])]:
            self.assertTrue(torch.equal(a, b))

    def test_streams_of_the_global_masks(self):
        """A rank's masks are rows lo..hi of the global batch's (what makes N ranks = 1 rank)."""
        s = MaskSampler(torch.Generator().manual_seed(1), 6, 10, 4, 2, 0.3, 0.3, 0.3)
        m = s.draw(5, torch.float64)
        part = m.streams(2, 4)
        self.assertTrue(torch.equal(part.embed, m.embed[2:4]))
        self.assertTrue(torch.equal(part.hidden[1], m.hidden[1][2:4]))
        self.assertTrue(torch.equal(part.between[0], m.between[0][:, 2:4]))

    def test_no_dropout_draws_nothing(self):
        g = torch.Generator().manual_seed(3)
        before = g.get_state()
        self.assertIsNone(MaskSampler(g, 4, 5, 3, 2).draw(7, torch.float64))
        self.assertIsNone(MaskSampler(g, 4, 5, 3, 1, dropout=0.5).draw(7, torch.float64))  # one layer: no boundary
        self.assertTrue(torch.equal(before, g.get_state()))

    def test_evaluation_never_drops(self):
        """evaluate() passes no masks: its bits/char is the contract model's, whatever the training dropout."""
        model = random_model("mlstm", False, 2)
        tokens = torch.randint(0, 7, (200,), generator=torch.Generator().manual_seed(0))
        r = evaluate(model, tokens, batch=2, seq=16)
        with torch.no_grad():
            streams = tokens[:200].reshape(2, 100).T
            logits, _ = model(streams[:-1])
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, 7), streams[1:].reshape(-1))
        self.assertAlmostEqual(r["nats"], float(ce), places=12)


if __name__ == "__main__":
    unittest.main()
