/**
 * The PyTorch package's own checks, run from here so that `npm test` (and CI) runs them: python/tests
 * (unittest: dropout against a reference with explicit masks, the unknown symbol, the stream layout,
 * schedules, resume = uninterrupted, errors as one line) and tools/torch/selftest.py (the model against
 * the golden fixtures in float64). Skipped (with a console line) only where torch is absent.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { requireTorchInCI, runPython, torchAvailable } from './torch-helpers.js';

const torchReady = torchAvailable('torch-python');
requireTorchInCI(torchReady);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe.skipIf(!torchReady)('python/mlstm_torch checks itself', () => {
  it('python/tests pass (python3 -m unittest discover)', async () => {
    const r = await runPython(['-m', 'unittest', 'discover', '-s', `${ROOT}python/tests`, '-t', `${ROOT}python`]);
    const summary = r.stderr.trim().split('\n').slice(-3).join(' | ');
    console.log(`torch-python unittest: ${summary}`);
    expect(r.code, `${r.command}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toMatch(/Ran \d+ tests/);
    expect(r.stderr).toMatch(/\nOK\s*$/);
  }, 120_000);

  it('tools/torch/selftest.py matches the golden fixtures', async () => {
    const r = await runPython([`${ROOT}tools/torch/selftest.py`, `${ROOT}test/fixtures`]);
    console.log(`torch-python selftest:\n${r.stdout.trim()}`);
    expect(r.code, `${r.command}\n${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).not.toMatch(/FAIL/);
    expect(r.stdout.match(/^ok /gm)?.length ?? 0).toBeGreaterThanOrEqual(8);
  }, 120_000);
});
