#!/usr/bin/env node
/**
 * The model API in Chromium (`bash .ci/browser` runs it after the demo's test): headless Debian Chromium
 * driven by playwright-core opens the demo server's origin and runs test/browser/model-checks.mjs — the
 * checks test/model-checks.test.ts runs in Node — on the page's main thread and in a module worker, then
 * the README's "Use a model in your app" worker example as written (its import of 'mlstm' aimed at the
 * served dist/, as a bundler or an import map would), driven the way its page snippet drives it. Needs dist/ (npm run build) and
 * /usr/bin/chromium (or CHROMIUM=path); uses DEMO_URL when given, else starts scripts/serve-demo.mjs
 * in-process. Prints one line per check and ends with 'model browser: N passed, M failed'.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { modelChecks } from './model-checks.mjs';
import { readmeExample } from './readme-example.mjs';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

let passed = 0;
let failed = 0;
function report(where, results) {
  for (const r of results) {
    if (r.ok) passed++;
    else failed++;
    console.log(`${r.ok ? '✓' : '✗'} ${where}: ${r.name}${r.detail ? ` — ${r.detail}` : ''}`);
  }
}

/** Runs `source` (a module body that posts { ok, result } or { ok: false, error }) in a module Worker of the page. */
async function inWorker(page, source) {
  return page.evaluate(async (code) => {
    const url = URL.createObjectURL(new Blob([`const ORIGIN = ${JSON.stringify(location.origin)};\n${code}`], { type: 'text/javascript' }));
    const worker = new Worker(url, { type: 'module' });
    try {
      return await new Promise((done, fail) => {
        worker.onmessage = (e) => done(e.data);
        worker.onerror = (e) => fail(new Error(`worker: ${e.message || 'failed to load'}`));
      });
    } finally {
      worker.terminate();
      URL.revokeObjectURL(url);
    }
  }, source);
}

async function main() {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: run `npm run build` first');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (never a browser download)`);
  let server = null;
  let url = process.env.DEMO_URL;
  if (!url) {
    const { startDemoServer } = await import(join(ROOT, 'scripts', 'serve-demo.mjs'));
    const started = await startDemoServer({ port: 0 });
    server = started.server;
    url = started.url;
  }
  const profile = mkdtempSync(join(tmpdir(), 'mlstm-chromium-model-'));
  const problems = [];
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(120_000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(url);
    const checks = modelChecks.toString();
    report('page', await page.evaluate(`(${checks})(location.origin)`));
    const inWorkerReply = await inWorker(
      page,
      `${checks}\ntry { postMessage({ ok: true, result: await modelChecks(ORIGIN) }); } catch (e) { postMessage({ ok: false, error: String(e && e.stack || e) }); }`,
    );
    if (!inWorkerReply.ok) report('worker', [{ name: 'the checks run', ok: false, detail: inWorkerReply.error }]);
    else report('worker', inWorkerReply.result);
    // The README's worker example, as written: the page posts one request and collects the replies.
    const example = readmeExample(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'worker').replaceAll(
      "from 'mlstm'",
      `from '${url}dist/index.js'`,
    );
    const reply = await page.evaluate(async (source) => {
      const blob = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const worker = new Worker(blob, { type: 'module' });
      try {
        return await new Promise((done) => {
          let text = '';
          let messages = 0;
          worker.onmessage = ({ data }) => {
            messages++;
            if (data.text) text += data.text;
            if (data.done) done({ ok: true, text, messages });
          };
          worker.onerror = (e) => done({ ok: false, error: `worker: ${e.message || 'failed to load'}` });
          worker.postMessage({ prime: 'Call me ', length: 300 });
        });
      } finally {
        worker.terminate();
        URL.revokeObjectURL(blob);
      }
    }, example);
    report('worker', [
      {
        name: "the README's worker example runs as written and streams the generated text",
        ok: reply.ok && [...reply.text].length === 300,
        detail: reply.ok ? `${reply.messages} messages: ${JSON.stringify(reply.text.slice(0, 40))}…` : reply.error,
      },
    ]);
    report('page', [{ name: 'no page errors', ok: problems.length === 0, detail: problems.join('; ') }]);
  } finally {
    await context?.close().catch(() => {});
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(`model browser: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
