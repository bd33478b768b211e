#!/usr/bin/env node
/**
 * The real-browser test of the demo (`npm run test:browser`, or .ci/browser in CI): headless Debian
 * Chromium driven by playwright-core opens the page, trains, and checks what a person would see:
 * the loss falls, a sample and the heatmap appear, the equations fill in with values that agree with
 * the engine's fused kernel, pause stops training, the downloaded checkpoint decodes in Node and is
 * loadable by the CLI, it loads back into the page, a bad file gives a clear message, and nothing is
 * logged as a console error or thrown as a page error. The page is cross-origin isolated, and the
 * parallel GEMM of mlstm/web (module workers nested in a worker, over SharedArrayBuffer) gives
 * results bit-identical to the single-thread kernel, for single products and for training.
 *
 * Needs dist/ (npm run build) and /usr/bin/chromium (or CHROMIUM=path). Uses DEMO_URL when given
 * (.ci/browser starts the server), otherwise starts scripts/serve-demo.mjs in-process on a free port.
 * Prints one line per check and ends with 'browser: N passed, M failed'.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.SCREENSHOT ?? join(tmpdir(), 'mlstm-demo.png');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const INSPECT_TOLERANCE = 1e-4; // recomputed h, c, m against the fused kernel, float32

const results = [];
let failed = false;
async function check(name, fn) {
  if (failed) {
    results.push({ name, ok: false, skipped: true });
    console.log(`- skip  ${name}`);
    return;
  }
  const started = Date.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true });
    console.log(`✓ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)${detail ? ` — ${detail}` : ''}`);
  } catch (err) {
    failed = true;
    results.push({ name, ok: false });
    console.log(`✗ ${name}: ${err instanceof Error ? err.message : String(err)}`);
    if (onFailure) console.log(`  page: ${await onFailure().catch((e) => `(unavailable: ${e.message})`)}`);
  }
}
/** Set once the page is open: what the page says, printed under a failed check. */
let onFailure = null;
function assert(cond, message) {
  if (!cond) throw new Error(message);
}
const number = (s) => Number(String(s).trim());

/**
 * Runs `fn(origin, ...args)` (a self-contained async function: it imports what it needs by URL) in a
 * module Worker started by the page, where Atomics.wait is allowed, and returns its result. The
 * worker comes from a Blob URL, so it is same-origin and inherits the page's cross-origin isolation.
 */
async function inPageWorker(page, fn, ...args) {
  const body = [
    `const run = ${fn.toString()};`,
    `try { postMessage({ ok: true, result: await run(ORIGIN, ...${JSON.stringify(args)}) }); }`,
    'catch (e) { postMessage({ ok: false, error: e instanceof Error ? e.stack || e.message : String(e) }); }',
  ].join('\n');
  const reply = await page.evaluate(async (code) => {
    const source = `const ORIGIN = ${JSON.stringify(location.origin)};\n${code}`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const worker = new Worker(url, { type: 'module' });
    try {
      return await new Promise((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => reject(new Error(`test worker: ${e.message || 'failed to load'}`));
      });
    } finally {
      worker.terminate();
      URL.revokeObjectURL(url);
    }
  }, body);
  if (!reply.ok) throw new Error(reply.error);
  return reply.result;
}

/**
 * In a worker: products large enough to split (≥ 2^20 multiply-adds), tall (split by rows) and wide
 * (by columns, with a prepared B: panel-wise, and whole column blocks when n > 1024), each on the
 * web parallel backend with 2 threads and on the single-thread blocked kernel; counts the elements
 * whose bits differ. The prepared cases run twice, b changed and prepared again in between (the
 * shared slot is repacked in place).
 */
async function gemmBitIdentity(origin) {
  const { createWebParallelBackend } = await import(`${origin}/dist/web/index.js`);
  const { blockedBackend, Rng } = await import(`${origin}/dist/index.js`);
  const backend = await createWebParallelBackend({ threads: 2 });
  if (backend.threads !== 2) throw new Error(`the backend has ${backend.threads} thread(s): ${backend.reason}`);
  const rng = new Rng(11);
  const fill = (x) => {
    for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
    return x;
  };
  const cases = [
    {
      label: 'tall 384×256×128 f32 transA accumulate bias alpha',
      m: 384,
      n: 256,
      k: 128,
      transA: true,
      accumulate: true,
      bias: true,
      alpha: -0.75,
    },
    { label: 'tall 200×150×300 f64 transB', m: 200, n: 150, k: 300, transB: true, f64: true },
    { label: 'wide 32×1024×256 prepared transB bias', m: 32, n: 1024, k: 256, transB: true, bias: true, prepared: true },
    { label: 'wide 32×2100×64 prepared accumulate', m: 32, n: 2100, k: 64, accumulate: true, prepared: true },
  ];
  const out = [];
  try {
    for (const t of cases) {
      if (t.m * t.n * t.k < 1 << 20) throw new Error(`${t.label} is too small to split`);
      const F = t.f64 ? Float64Array : Float32Array;
      const a = fill(new F(t.m * t.k));
      const b = fill(new F(t.k * t.n));
      const c0 = fill(new F(t.m * t.n));
      const args = {
        m: t.m,
        n: t.n,
        k: t.k,
        a,
        b,
        transA: !!t.transA,
        transB: !!t.transB,
        accumulate: !!t.accumulate,
        alpha: t.alpha ?? 1,
        bias: t.bias ? fill(new F(t.n)) : undefined,
      };
      const opB = { k: t.k, n: t.n, b, transB: !!t.transB };
      let differ = 0;
      for (let round = 0; round < (t.prepared ? 2 : 1); round++) {
        if (round > 0) fill(b);
        const single = c0.slice();
        const split = c0.slice();
        blockedBackend.gemm({ ...args, c: single, packedB: t.prepared ? blockedBackend.prepareB(opB) : undefined });
        backend.gemm({ ...args, c: split, packedB: t.prepared ? backend.prepareB(opB) : undefined });
        for (let i = 0; i < single.length; i++) if (!Object.is(single[i], split[i])) differ++;
      }
      out.push({ label: t.label, differ });
    }
  } finally {
    backend.close();
  }
  return { out, isolated: crossOriginIsolated };
}

/**
 * In a worker: the demo's session (session.js, the code the demo's worker runs) trained `steps` steps
 * from the same seed on 1 and on 2 threads of `kernel` ('js' or 'wasm'); the losses, the count of
 * products large enough to split, and whether every parameter ends bit-identical.
 */
async function trainOnThreads(origin, config, steps, kernel) {
  const { createWebParallelBackend } = await import(`${origin}/dist/web/index.js`);
  const { DemoSession } = await import(`${origin}/js/session.js`);
  const text = await (await fetch(`${origin}/data/moby-dick.txt`)).text();
  const run = async (threads) => {
    const backend = await createWebParallelBackend({ threads, kernel });
    let large = 0; // products of ≥ 2^20 multiply-adds: the ones the 2-thread backend splits
    let windows = 0; // mLSTM time loops run whole by the backend (the wasm one splits their batch rows)
    const loops = backend.recurrentWindows;
    const counting = {
      name: backend.name,
      describe: () => backend.describe(),
      recurrent: backend.recurrent,
      close: () => {},
      gemm: (args) => {
        if (args.m * args.n * args.k >= 1 << 20) large++;
        backend.gemm(args);
      },
      prepareB: (args) => backend.prepareB(args),
      releaseB: (prepared) => backend.releaseB?.(prepared),
      // The workspace's buffers in the backend's memory, and its whole-window loops: the path training takes.
      ...(backend.allocate ? { allocate: (n) => backend.allocate(n), free: (x) => backend.free(x) } : {}),
      ...(loops
        ? {
            recurrentWindows: {
              mlstmForward: (w) => loops.mlstmForward(w) && ++windows > 0,
              mlstmBackward: (w) => loops.mlstmBackward(w) && ++windows > 0,
            },
          }
        : {}),
    };
    try {
      const session = DemoSession.fromText(text, config, 'moby-dick.txt', counting);
      const losses = [];
      for (let s = 0; s < steps; s++) losses.push(session.trainStep().loss);
      const weights = session.model.parameters().map((p) => p.value.data.slice());
      return { threads: backend.threads, reason: backend.reason, kernels: backend.describe(), losses, large, windows, weights };
    } finally {
      backend.close();
    }
  };
  const one = await run(1);
  const two = await run(2);
  const weightsIdentical =
    one.weights.length === two.weights.length && one.weights.every((w, i) => w.every((v, j) => Object.is(v, two.weights[i][j])));
  return { one: { ...one, weights: undefined }, two: { ...two, weights: undefined }, weightsIdentical };
}

async function main() {
  const t0 = Date.now();
  await check('prerequisites: dist/ is built and Chromium is installed', async () => {
    assert(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/index.js is missing: run `npm run build` first');
    assert(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (never a browser download)`);
    return CHROMIUM;
  });
  if (failed) return summary(t0);

  await check('in Node: look-inside recomputation matches the fused kernels (every cell kind, weight norm, each layer)', async () => {
    const { CharLM, Rng } = await import(join(ROOT, 'dist', 'index.js'));
    const { buildCharVocabulary, TextCodec } = await import(join(ROOT, 'dist', 'data', 'vocabulary.js'));
    const { inspectText } = await import(join(ROOT, 'demo', 'js', 'inspect.js'));
    const sample = 'Call me Ishmael. Some years ago—never mind how long precisely.\n';
    const vocab = buildCharVocabulary(sample);
    let worst = 0;
    for (const [cell, weightNorm] of [
      ['mlstm', false],
      ['mlstm', true],
      ['lstm', false],
      ['mrnn', false],
    ]) {
      const model = new CharLM({ cell, weightNorm, vocab: vocab.symbols.length, embed: 6, hidden: 9, layers: 2 }, { rng: new Rng(7) });
      for (const layer of [0, 1]) {
        const r = inspectText(model, new TextCodec(vocab), sample, layer);
        const diff = Math.max(...Object.values(r.check));
        assert(
          diff < INSPECT_TOLERANCE,
          `${cell}${weightNorm ? ' (weight norm)' : ''} layer ${layer}: recomputed values differ from the fused kernel by ${diff}`,
        );
        worst = Math.max(worst, diff);
      }
    }
    return `max |Δ| ${worst.toExponential(1)}`;
  });

  let server = null;
  let url = process.env.DEMO_URL;
  if (!url) {
    const { startDemoServer } = await import(join(ROOT, 'scripts', 'serve-demo.mjs'));
    const started = await startDemoServer({ port: 0 });
    server = started.server;
    url = started.url;
  }
  const profile = mkdtempSync(join(tmpdir(), 'mlstm-chromium-'));
  const scratch = mkdtempSync(join(tmpdir(), 'mlstm-browser-test-'));
  const problems = []; // console errors, page errors, failed requests
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    const text = (id) => page.locator(`[data-testid="${id}"]`).textContent();
    onFailure = async () =>
      JSON.stringify(
        Object.fromEntries(
          await Promise.all(['status', 'step', 'loss', 'checkpoint-status', 'inspect-check'].map(async (id) => [id, await text(id)])),
        ),
      );

    await check('the page loads', async () => {
      await page.goto(url);
      await page.locator('[data-testid="train"]').waitFor();
      assert(await page.locator('[data-testid="train"]').isEnabled(), 'the Train button is disabled on a fresh page');
      return url;
    });

    await check('dist/ imports unchanged in the page and computes what Node computes', async () => {
      // The same seeded model and tokens in both runtimes: the loss must agree.
      const probe = async (href) => {
        const m = await import(href);
        const model = new m.CharLM({ cell: 'mlstm', weightNorm: false, vocab: 7, embed: 5, hidden: 6, layers: 2 }, { rng: new m.Rng(42) });
        const T = 9;
        const B = 2;
        const inputs = Int32Array.from({ length: T * B }, (_, k) => (k * 5 + 1) % 7);
        const targets = Int32Array.from({ length: T * B }, (_, k) => (k * 3 + 2) % 7);
        return model.loss(new m.Tape(), inputs, targets, T, B, model.zeroState(B)).loss.value.item();
      };
      const inBrowser = await page.evaluate(`(${probe.toString()})(new URL('../dist/index.js', location.href).href)`);
      const inNode = await probe(new URL('../../dist/index.js', import.meta.url).href);
      assert(
        Number.isFinite(inNode) && Math.abs(inBrowser - inNode) <= 1e-6 * Math.abs(inNode),
        `browser loss ${inBrowser} ≠ Node loss ${inNode}`,
      );
      return `loss ${inNode} in both${inBrowser === inNode ? ' (bit for bit)' : ''}`;
    });

    await check('the page is cross-origin isolated (COOP same-origin, COEP require-corp): SharedArrayBuffer is available', async () => {
      const env = await page.evaluate(() => ({ isolated: globalThis.crossOriginIsolated, sab: typeof SharedArrayBuffer }));
      assert(
        env.isolated === true,
        `crossOriginIsolated is ${env.isolated}: the server must send Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy`,
      );
      assert(env.sab === 'function', `SharedArrayBuffer is ${env.sab}`);
    });

    await check("on the page's main thread the parallel backend refuses with a clear error (its gemm blocks in Atomics.wait)", async () => {
      const r = await page.evaluate(async () => {
        const { createWebParallelBackend } = await import(new URL('../dist/web/index.js', location.href).href);
        const single = await createWebParallelBackend({ threads: 1 });
        const refused = await createWebParallelBackend({ threads: 2 }).then(
          (b) => (b.close(), `created with ${b.threads} threads`),
          (e) => e.message,
        );
        return { single: [single.threads, single.reason], refused };
      });
      assert(r.single[0] === 1 && typeof r.single[1] === 'string', `threads 1 gave ${JSON.stringify(r.single)}`);
      assert(/Atomics\.wait is not allowed.*inside a Worker/.test(r.refused), `unexpected outcome: ${r.refused}`);
      return r.refused;
    });

    await check(
      'a gemm on the web parallel backend (2 threads: a worker and a nested one) is bit-identical to the single-thread kernel',
      async () => {
        const { out, isolated } = await inPageWorker(page, gemmBitIdentity);
        assert(isolated === true, 'the test worker is not cross-origin isolated');
        const bad = out.filter((r) => r.differ > 0);
        assert(out.length === 4 && bad.length === 0, bad.map((r) => `${r.label}: ${r.differ} element(s) differ`).join('; '));
        return out.map((r) => r.label).join('; ');
      },
    );

    for (const kernel of ['js', 'wasm']) {
      await check(
        `training the demo's model on 1 and on 2 threads of the ${kernel} kernels gives bit-identical losses and weights`,
        async () => {
          const details = [];
          for (const config of [
            { hidden: 64, embed: 16, seq: 32, batch: 8 },
            { hidden: 128, embed: 32, seq: 64, batch: 16 },
          ]) {
            const steps = 4;
            const { one, two, weightsIdentical } = await inPageWorker(
              page,
              trainOnThreads,
              { ...config, lr: 0.003, clip: 1, seed: 1 },
              steps,
              kernel,
            );
            const name = `H ${config.hidden} B ${config.batch} T ${config.seq}`;
            assert(one.threads === 1 && two.threads === 2, `${name}: threads ${one.threads} and ${two.threads} (${two.reason})`);
            const expected = kernel === 'wasm' ? /^wasm-simd( fma)? ×2$/ : /^js ×2$/;
            assert(expected.test(two.kernels), `${name}: the 2-thread backend says it is '${two.kernels}'`);
            assert(two.large >= steps, `${name}: only ${two.large} products large enough to split in ${steps} steps`);
            if (kernel === 'wasm') assert(two.windows === 2 * steps, `${name}: ${two.windows} whole-window loops in ${steps} steps`);
            assert(one.losses.length === steps && one.losses.every(Number.isFinite), `${name}: losses ${one.losses}`);
            const differ = one.losses.findIndex((l, i) => !Object.is(l, two.losses[i]));
            assert(differ < 0, `${name}: step ${differ + 1} loss ${one.losses[differ]} on 1 thread, ${two.losses[differ]} on 2`);
            assert(weightsIdentical, `${name}: the weights after ${steps} steps differ between 1 and 2 threads`);
            details.push(
              `${name} (${two.kernels}): ${two.large / steps} split products/step` +
                (kernel === 'wasm' ? `, ${two.windows / steps} whole-window loops/step` : '') +
                `, losses ${one.losses.map((l) => l.toFixed(4)).join(' ')}`,
            );
          }
          return details.join('; ');
        },
      );
    }

    let firstLoss = NaN;
    await check('training starts and reports a loss', async () => {
      await page.click('[data-testid="train"]');
      await page.waitForFunction(() => Number.isFinite(parseFloat(document.querySelector('[data-testid="loss"]').textContent)));
      firstLoss = number(await text('loss'));
      assert(firstLoss > 3 && firstLoss < 6, `the first loss ${firstLoss} is not near ln(vocabulary) ≈ 4.4 nats`);
      return `first loss ${firstLoss.toFixed(3)} nats`;
    });

    await check('the page trains on the wasm kernels by default, on two threads, and says which (describe())', async () => {
      assert(
        (await page.locator('[data-testid="kernels-choice"]').inputValue()) === 'wasm',
        'the kernels control does not default to wasm',
      );
      assert(
        (await page.locator('[data-testid="threads-choice"]').inputValue()) === '2',
        'the threads control does not default to 2 on an isolated page',
      );
      const kernels = await text('kernels');
      assert(/^wasm-simd( fma)? ×2$/.test(kernels), `the page says the kernels are '${kernels}'`);
      assert((await text('threads')) === '2', `threads shows ${await text('threads')}`);
      const note = await text('threads-note');
      assert(/^The matrix products are split across 2 threads/.test(note), `unexpected note: ${note}`);
      return `${kernels}; ${note}`;
    });

    await check('the loss falls by more than 1 nat', async () => {
      await page.waitForFunction((first) => parseFloat(document.querySelector('[data-testid="loss"]').textContent) < first - 1, firstLoss, {
        timeout: 60_000,
      });
      return `${firstLoss.toFixed(3)} → ${number(await text('loss')).toFixed(3)} at step ${await text('step')}`;
    });

    await check('samples appear, the latest from a model trained for 50 steps or more', async () => {
      // The sample's heading says '(after N steps)'; the worker samples every 25 steps by default.
      await page.waitForFunction(() => Number((document.getElementById('sample-step').textContent.match(/\d+/) ?? ['0'])[0]) >= 50, null, {
        timeout: 60_000,
      });
      const sample = await text('sample');
      assert(sample.length >= 100, `the sample has only ${sample.length} characters`);
      return `${await page.locator('#sample-step').textContent()} ${JSON.stringify(sample.slice(0, 60))}`;
    });

    await check('the heatmap shows the inspected text, every value matching the fused kernel', async () => {
      await page.locator('[data-testid="heatmap"] .hm-char').first().waitFor();
      const expected = Math.min(400, [...(await page.locator('[data-testid="inspect-text"]').inputValue())].length);
      const shown = await page.locator('[data-testid="heatmap"] .hm-char').count();
      assert(shown === expected, `the heatmap shows ${shown} characters, the text has ${expected}`);
      const strips = await page.locator('[data-testid="heatmap"] .hm-cell').count();
      assert(strips === expected * 8, `expected 8 strips (c, m, i, f, o, g, h and bits) per character, got ${strips / expected}`);
      const maxDiff = Number(await page.locator('[data-testid="inspect-check"]').getAttribute('data-max-diff'));
      assert(maxDiff >= 0 && maxDiff < INSPECT_TOLERANCE, `recomputed values differ from the fused kernel by ${maxDiff}`);
      return `${shown} characters, max |Δ| ${maxDiff.toExponential(1)}`;
    });

    await check('hovering a character fills in the equations with its numbers', async () => {
      await page.locator('[data-testid="heatmap"] .hm-char').nth(3).hover();
      const eq = await text('equations');
      assert(eq.includes('at t = 3'), `the equations panel does not show character 3: ${eq.slice(0, 80)}`);
      for (const part of ['multiplicative state', 'forget gate', 'c t = f·c t−1 + i·g'.replace(/ /g, '')]) {
        const flat = eq.replace(/\s+/g, '');
        assert(flat.includes(part.replace(/\s+/g, '')), `the equations panel lacks '${part}'`);
      }
      // h_t = o·tanh(c_t) must hold for the numbers shown (3 decimals).
      const cells = await page.$$eval('[data-testid="equations"] tbody tr', (rows) =>
        rows.map((r) => [r.dataset.q, r.querySelector('.val').textContent.replace('−', '-')]),
      );
      const v = Object.fromEntries(cells.filter(([q]) => q).map(([q, s]) => [q, Number(s)]));
      assert(Math.abs(v.h - v.o * Math.tanh(v.c)) < 2e-3, `shown h ${v.h} ≠ o·tanh(c) = ${v.o}·tanh(${v.c})`);
      return `h ${v.h} = ${v.o}·tanh(${v.c})`;
    });

    await check('choosing another hidden unit redraws the heatmap', async () => {
      const before = await page.locator('[data-testid="heatmap"]').getAttribute('data-unit');
      const options = await page.locator('[data-testid="unit"] option').evaluateAll((os) => os.map((o) => o.value));
      const other = options.find((o) => o !== before);
      await page.selectOption('[data-testid="unit"]', other);
      await page.waitForFunction((u) => document.querySelector('[data-testid="heatmap"]').dataset.unit === u, other);
      return `unit ${before} → ${other} of ${options.length}`;
    });

    await check('screenshot', async () => {
      await page.locator('[data-testid="heatmap"] .hm-char').nth(20).hover();
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      return SCREENSHOT;
    });

    await check('pause stops training and resume continues it', async () => {
      await page.click('[data-testid="pause"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.startsWith('Paused'));
      const stepAtPause = number(await text('step'));
      await page.waitForTimeout(700);
      assert(number(await text('step')) === stepAtPause, 'the step count moved while paused');
      await page.click('[data-testid="resume"]');
      await page.waitForFunction((s) => Number(document.querySelector('[data-testid="step"]').textContent) > s, stepAtPause);
      await page.click('[data-testid="pause"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.startsWith('Paused'));
      return `paused at step ${stepAtPause}, resumed to ${await text('step')}`;
    });

    const checkpointPath = join(scratch, 'demo.safetensors');
    await check('the downloaded checkpoint decodes in Node and the CLI samples from it', async () => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="download"]')]);
      await download.saveAs(checkpointPath);
      assert(
        /^mlstm-demo-step\d+\.safetensors$/.test(download.suggestedFilename()),
        `unexpected file name ${download.suggestedFilename()}`,
      );
      const { decodeCheckpoint } = await import(join(ROOT, 'dist', 'index.js'));
      const decoded = decodeCheckpoint(readFileSync(checkpointPath), { source: checkpointPath });
      assert(decoded.config.cell === 'mlstm' && decoded.config.hidden === 64, `unexpected config ${JSON.stringify(decoded.config)}`);
      const cli = join(ROOT, 'dist', 'cli', 'main.js');
      if (!existsSync(cli)) return `decoded (${decoded.config.vocab} symbols); no dist/cli/main.js to run`;
      const run = spawnSync(process.execPath, [cli, 'sample', checkpointPath, '--length', '80', '--seed', '3'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert(run.status === 0, `mlstm sample exited ${run.status}: ${run.stderr.trim()}`);
      assert(run.stdout.length >= 80, `mlstm sample printed ${run.stdout.length} characters`);
      return `${download.suggestedFilename()}; mlstm sample → ${JSON.stringify(run.stdout.slice(0, 40))}`;
    });

    await check('a bad file is refused with a clear message and the model is kept', async () => {
      const bad = join(scratch, 'not-a-model.safetensors');
      writeFileSync(bad, 'this is not a safetensors file, just text');
      await page.setInputFiles('[data-testid="load"]', bad);
      await page.waitForFunction(() =>
        document.querySelector('[data-testid="checkpoint-status"]').textContent.startsWith('Could not load'),
      );
      const msg = await text('checkpoint-status');
      assert(msg.includes('not-a-model.safetensors'), `the message does not name the file: ${msg}`);
      assert(await page.locator('[data-testid="download"]').isEnabled(), 'the current model was dropped');
      return msg;
    });

    await check('the checkpoint loads back into the page and trains on', async () => {
      await page.setInputFiles('[data-testid="load"]', checkpointPath);
      await page.waitForFunction(() => document.querySelector('[data-testid="checkpoint-status"]').textContent.startsWith('Loaded'));
      const loadedStep = number(await text('step'));
      await page.waitForFunction(() => document.querySelector('[data-testid="sample"]').textContent.length > 0);
      await page.click('[data-testid="resume"]');
      await page.waitForFunction((s) => Number(document.querySelector('[data-testid="step"]').textContent) > s, loadedStep);
      return `${await text('checkpoint-status')}; now at step ${await text('step')}`;
    });

    await check('reset returns to a fresh page', async () => {
      await page.click('[data-testid="reset"]');
      await page.waitForFunction(() => !document.querySelector('[data-testid="train"]').disabled);
      assert((await text('step')) === '—', 'the step count survived the reset');
    });

    await check('a pasted text too short to train on gives a clear message', async () => {
      await page.locator('[data-testid="paste"]').fill('a short text. '.repeat(18)); // 252 characters < 8 streams × 33
      await page.click('[data-testid="train"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="status"]').dataset.kind === 'error');
      const msg = await text('status');
      assert(/shorter than one window/.test(msg), `unexpected message: ${msg}`);
      assert(await page.locator('[data-testid="train"]').isEnabled(), 'Train is not available again after the error');
      return msg;
    });

    await check('a GEMM worker terminated mid-training: the page says so, keeps the model, and Resume trains on 1 thread', async () => {
      // The drill makes gemm worker 1 ask its supervisor to terminate it in the middle of its 60th job,
      // while the training worker is blocked in that gemm: only the supervisor hears of it.
      await page.goto(`${url}?gemm-drill=terminate:60`);
      await page.locator('[data-testid="train"]').waitFor();
      await page.selectOption('[data-testid="kernels-choice"]', 'js'); // the drill is the JS threaded driver's
      await page.click('[data-testid="train"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="threads"]').textContent === '2');
      const split = await text('threads-note');
      assert(/split across 2 threads/.test(split), `the js kernels on 2 threads: unexpected note: ${split}`);
      assert((await text('kernels')) === 'js ×2', `the page says the kernels are '${await text('kernels')}'`);
      await page.waitForFunction(() => /GEMM worker stopped/.test(document.querySelector('[data-testid="status"]').textContent), null, {
        timeout: 60_000,
      });
      const status = await text('status');
      const m =
        /^A GEMM worker stopped \(gemm worker 1 of 1 was terminated in the middle of a job \(a fault drill\)\)\. Training paused at step (\d+); the model is kept — Resume continues on 1 thread\.$/.exec(
          status,
        );
      assert(m, `unexpected status: ${status}`);
      assert((await page.locator('[data-testid="status"]').getAttribute('data-kind')) === 'error', 'the status is not shown as an error');
      const stoppedAt = Number(m[1]);
      assert(stoppedAt >= 1, `stopped at step ${stoppedAt}`);
      await page.waitForFunction((s) => Number(document.querySelector('[data-testid="step"]').textContent) === s, stoppedAt);
      assert(await page.locator('[data-testid="download"]').isEnabled(), 'the model was dropped');
      assert((await text('threads')) === '1', `threads shows ${await text('threads')}`);
      const note = await text('threads-note');
      assert(
        /^Training on 1 thread with the js kernels: a GEMM worker failed \(gemm worker 1 of 1 was terminated/.test(note),
        `unexpected note: ${note}`,
      );
      await page.click('[data-testid="resume"]');
      await page.waitForFunction((s) => Number(document.querySelector('[data-testid="step"]').textContent) > s + 3, stoppedAt, {
        timeout: 60_000,
      });
      await page.click('[data-testid="pause"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.startsWith('Paused'));
      const loss = number(await text('loss'));
      assert(Number.isFinite(loss) && loss < 4.5, `the loss after resuming is ${loss}`);
      return `stopped at step ${stoppedAt}, resumed on 1 thread to step ${await text('step')} (loss ${loss.toFixed(3)})`;
    });

    await check('no console errors, page errors or failed requests', async () => {
      assert(problems.length === 0, problems.join('; '));
    });
  } catch (err) {
    failed = true;
    results.push({ name: 'browser session', ok: false });
    console.log(`✗ browser session: ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    if (problems.length && failed) console.log(`page problems: ${problems.join('; ')}`);
    await context?.close().catch(() => {});
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    rmSync(profile, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
  summary(t0);
}

function summary(t0) {
  const passed = results.filter((r) => r.ok).length;
  console.log(`browser test took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`browser: ${passed} passed, ${results.length - passed} failed`);
  process.exitCode = passed === results.length ? 0 : 1;
}

await main();
