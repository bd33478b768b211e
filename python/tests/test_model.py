"""The model under bf16 autocast (the GPU option, exercised here on the CPU) and its argument checks."""
import unittest

import torch

from mlstm_torch.model import Cell, CharLM, init_like_mlstm


class Autocast(unittest.TestCase):
    def test_bf16_products_float32_state(self):
        """Under bf16 autocast the matrix products run in bf16, the state update in float32: the carried state
        stays float32 and the loss stays within bf16 rounding of the float32 loss."""
        torch.manual_seed(0)
        for cell, wn in (("mlstm", True), ("lstm", False), ("mrnn", False)):
            with self.subTest(cell=cell):
                model = CharLM(cell, 20, 8, 32, 2, wn)
                init_like_mlstm(model, torch.Generator().manual_seed(1))
                tokens = torch.randint(0, 20, (16, 4), generator=torch.Generator().manual_seed(2))
                logits32, _ = model(tokens[:-1])
                loss32 = torch.nn.functional.cross_entropy(logits32.reshape(-1, 20), tokens[1:].reshape(-1))
                with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                    logits, state = model(tokens[:-1])
                    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 20), tokens[1:].reshape(-1))
                self.assertEqual(logits.dtype, torch.bfloat16)
                self.assertEqual(loss.dtype, torch.float32)
                for h, c in state:
                    self.assertEqual(h.dtype, torch.float32)
                    if c is not None:
                        self.assertEqual(c.dtype, torch.float32)
                self.assertNotEqual(float(loss), float(loss32))
                self.assertLess(abs(float(loss) - float(loss32)) / float(loss32), 2e-2)
                loss.backward()
                self.assertTrue(all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters()))


class Checks(unittest.TestCase):
    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "weight norm is defined for the mlstm cell only"):
            Cell("lstm", 3, 4, weight_norm=True)
        with self.assertRaisesRegex(ValueError, "unknown cell kind"):
            Cell("gru", 3, 4)
        with self.assertRaisesRegex(ValueError, "hidden must be a positive integer"):
            CharLM("mlstm", 5, 3, 0, 1)


if __name__ == "__main__":
    unittest.main()
