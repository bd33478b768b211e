import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './cli-helpers.js';

/*
 * `import … from 'mlstm'` in Node resolves through package.json's "node" condition to
 * dist/node/main.js, which turns on relaxed SIMD before the library loads: the default backend of an
 * app that imports only 'mlstm' is the one mlstm/node's selectBackend makes (on Node 20 with FMA:
 * 'wasm-simd fma', where dist/index.js alone gives 'wasm-simd'), and the entry exports exactly what
 * dist/index.js does. Each case runs in a process of its own: the flag and the shared default
 * backend are per process.
 */
function run(source: string): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

it("Node's 'mlstm' makes the default backend mlstm/node's selectBackend makes", () => {
  ensureBuilt();
  const viaMain = run("import { selectBackend } from 'mlstm'; console.log(selectBackend().backend.describe());");
  const viaNode = run("import { selectBackend } from 'mlstm/node'; console.log(selectBackend().backend.describe());");
  expect(viaMain).toBe(viaNode);
  expect(viaMain).toMatch(/^(wasm-simd fma|wasm-simd|js)$/);
});

it("Node's 'mlstm' exports the names of dist/index.js, no more and no fewer", () => {
  ensureBuilt();
  const names = (specifier: string) =>
    run(`const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).sort().join(','));`);
  const main = names('mlstm');
  expect(main.split(',').length).toBeGreaterThan(50);
  expect(main).toBe(names('./dist/index.js'));
});
