#!/usr/bin/env node
/**
 * The "sentiment neuron" workflow on real e-mail: ham vs spam from the SpamAssassin public corpus.
 *
 *   npm run build && node scripts/spam-example.mjs [--steps N] [--hidden N] [--dir runs/spam] [--svg FILE] [--threads N]
 *                                                  [--backend js|wasm]
 *
 * 1. trains a byte-level mLSTM language model on the training messages' bodies (labels unused),
 * 2. fits an L1 logistic-regression probe on its features — the mean hidden state (the default pool),
 *    the final cell state, and both side by side — and finds the best single unit,
 * 3. does the same on the features of an untrained (randomly initialised) mLSTM of the same size, to
 *    show what training adds,
 * 4. fits the same probe code on hashed character n-grams (n = 1..3): the baseline,
 * and writes every number, timing and command to examples/spam/RESULTS.md and the unit picture to
 * examples/spam/unit.svg. Data: examples/spam/{train,test}.tsv (made by scripts/spam-data.mjs).
 * Everything goes through the `mlstm` command (dist/cli/main.js), as a user would run it.
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
const EXAMPLE = join(ROOT, 'examples', 'spam');

function flag(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const STEPS = Number(flag('steps', '2000'));
const HIDDEN = Number(flag('hidden', '128'));
const DIR = resolve(ROOT, flag('dir', 'runs/spam'));
const SVG = resolve(ROOT, flag('svg', 'examples/spam/unit.svg'));
const SEED = 1;
const THREADS = flag('threads', undefined); // mlstm train's --threads (default: its own); the numbers do not depend on it
const BACKEND = flag('backend', undefined); // mlstm train's and eval's --backend (default: theirs)
/** The flags that choose the kernels, passed to train and eval. */
const KERNELS = [...(THREADS ? ['--threads', THREADS] : []), ...(BACKEND ? ['--backend', BACKEND] : [])];

/** Run `node dist/cli/main.js …args`, echoing its output; resolves to {stdout, seconds}. */
function mlstm(args, { echo = true } = {}) {
  const shown = args.map((a) => (a.startsWith(ROOT) ? relative(ROOT, a) : a));
  console.log(`\n$ mlstm ${shown.join(' ')}`);
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s) => {
      stdout += s;
      if (echo) process.stdout.write(s);
    });
    child.stderr.on('data', (s) => process.stderr.write(s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`mlstm ${args[0]} exited with code ${code}`));
      else resolve({ stdout, seconds: (performance.now() - start) / 1000, command: `mlstm ${shown.join(' ')}` });
    });
  });
}

function unescapeTsv(field) {
  return field.replace(/\\([ntr\\])/g, (_, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : '\\'));
}

function texts(path) {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => unescapeTsv(l.slice(l.indexOf('\t') + 1)));
}

/** The numbers of a `mlstm probe` report. */
function parseProbe(stdout) {
  const get = (re) => stdout.match(re)?.slice(1) ?? [];
  const [accuracy] = get(/^accuracy (\S+)$/m);
  const [trainAccuracy] = get(/^train accuracy (\S+)$/m);
  const [lambda] = get(/^l1 (\S+)/m);
  const [nonZero, units] = get(/^non-zero units: (\d+) of (\d+)$/m);
  const [unit, name, singleAccuracy, singleTrain] = get(
    /^best single unit (\d+)(?: ("(?:[^"\\]|\\.)*"))?: accuracy (\S+) \(train ([\d.]+)/m,
  );
  const top = stdout.split('\n').filter((l) => /^ {2}unit /.test(l));
  return { accuracy, trainAccuracy, lambda, nonZero, units, unit, name, singleAccuracy, singleTrain, top };
}

function machine() {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model?.trim() ?? 'unknown CPU'}, Node ${process.version}, load average ${loadavg()[0].toFixed(1)} at the start`;
}

async function main() {
  for (const f of ['train.tsv', 'test.tsv']) {
    if (!existsSync(join(EXAMPLE, f))) throw new Error(`examples/spam/${f} is missing: run node scripts/spam-data.mjs first`);
  }
  if (!existsSync(MAIN)) throw new Error('dist/cli/main.js is missing: run npm run build first');
  mkdirSync(DIR, { recursive: true });
  const machineLine = machine(); // before our own load
  const started = performance.now();
  const trainTsv = join(EXAMPLE, 'train.tsv');
  const testTsv = join(EXAMPLE, 'test.tsv');

  // The language model sees the training bodies only (no labels, no test messages).
  const corpus = join(DIR, 'corpus.txt');
  writeFileSync(corpus, `${texts(trainTsv).join('\n\n')}\n`);
  const heldOut = join(DIR, 'test-bodies.txt');
  writeFileSync(heldOut, `${texts(testTsv).join('\n\n')}\n`);
  const lm = join(DIR, 'lm.safetensors');
  const trainArgs = [
    'train',
    '--data',
    corpus,
    '--out',
    lm,
    '--bytes',
    '--hidden',
    String(HIDDEN),
    '--embed',
    '32',
    '--batch',
    '32',
    '--seq',
    '64',
    '--steps',
    String(STEPS),
    '--lr',
    '3e-3',
    '--schedule',
    'cosine',
    '--warmup',
    '50',
    '--seed',
    String(SEED),
    ...KERNELS,
  ];
  const training = await mlstm(trainArgs);
  const evaluation = await mlstm(['eval', lm, heldOut, '--batch', '32', ...KERNELS]);
  const bpc = evaluation.stdout.match(/^bpc (\S+)/m)?.[1];
  const kernels = training.stdout.match(/ steps; (.+ kernels on \d+ threads?)$/m)?.[1]; // train's banner says which ran

  // An untrained model of the same shape, for comparison: what do random multiplicative features give?
  const { CharLM, Rng, encodeCheckpoint } = await import(join(ROOT, 'dist', 'index.js'));
  const untrained = join(DIR, 'untrained.safetensors');
  const model = new CharLM({ cell: 'mlstm', weightNorm: false, vocab: 256, embed: 32, hidden: HIDDEN, layers: 1 }, { rng: new Rng(SEED) });
  writeFileSync(untrained, encodeCheckpoint(model, { kind: 'bytes' }));

  // mean is the default pool of features/probe; last (the final cell state) and their concatenation
  // are there for comparison. The unit picture is drawn from the default probe.
  const probe = (checkpoint, pool, ...extra) =>
    mlstm(['probe', checkpoint, '--train', trainTsv, '--test', testTsv, '--pool', pool, ...extra]);
  const probeMean = await probe(lm, 'mean', '--out', join(DIR, 'probe-mean.json'), '--svg', SVG);
  const probeLast = await probe(lm, 'last', '--out', join(DIR, 'probe-last.json'));
  const probeBoth = await probe(lm, 'mean+last', '--out', join(DIR, 'probe-mean-last.json'));
  const randomMean = await probe(untrained, 'mean');
  const randomLast = await probe(untrained, 'last');
  const randomBoth = await probe(untrained, 'mean+last');
  const ngrams = await mlstm(['probe', '--ngrams', '3', '--train', trainTsv, '--test', testTsv, '--out', join(DIR, 'probe-ngrams.json')]);
  const total = (performance.now() - started) / 1000;

  const rows = [
    ['trained mLSTM, mean hidden state h (`--pool mean`, the default)', probeMean],
    ['trained mLSTM, final cell state c (`--pool last`)', probeLast],
    ['trained mLSTM, both side by side (`--pool mean+last`)', probeBoth],
    ['untrained mLSTM, mean hidden state h', randomMean],
    ['untrained mLSTM, final cell state c', randomLast],
    ['untrained mLSTM, both side by side', randomBoth],
    ['character n-grams 1..3 (hashed, log counts)', ngrams],
  ].map(([name, run]) => ({ name, run, p: parseProbe(run.stdout) }));
  const pct = (v) => (v === undefined ? '?' : `${(100 * Number(v)).toFixed(1)}%`);
  const minutes = (s) => (s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);
  const table = rows
    .map(
      ({ name, run, p }) =>
        `| ${name} | ${p.units} | ${pct(p.accuracy)} | ${p.nonZero} | ${p.unit}${p.name ? ` ${p.name.replace(/\|/g, '\\|')}` : ''}: ${pct(p.singleAccuracy)} | ${minutes(run.seconds)} |`,
    )
    .join('\n');
  const shown = rows[0].p;
  const md = `# Ham vs spam: results

Generated by \`node scripts/spam-example.mjs\` (${new Date().toISOString().slice(0, 10)}; ${machineLine}).
Total time: ${minutes(total)}. Data: 2000 training and 800 test messages, balanced (see README.md).

## Language model

Byte-level mLSTM, 1 layer, ${HIDDEN} hidden units, embedding 32, trained on the training bodies only
(labels unused): ${STEPS} steps of 32 streams × 64 bytes, Adam 3e-3 with warm-up and cosine decay,
seed ${SEED}, in ${minutes(training.seconds)}${kernels ? ` (${kernels})` : ''}. Bits per byte on the held-out test bodies: **${bpc}**.

    ${training.command}

## Probes (test accuracy; chance = 50%)

An L1-regularised logistic regression on standardised features, λ chosen by 3-fold cross-validation on
the training messages; the best single unit is chosen on the training messages by its own 1-D
logistic regression, then scored on the test messages.

| features | units | probe accuracy | non-zero weights | best single unit: accuracy | time |
| --- | ---: | ---: | ---: | --- | ---: |
${table}

Top units of the default (mean hidden state) probe (|weight| on the standardised unit, the class it speaks for):

\`\`\`
${shown.top.join('\n')}
\`\`\`

Unit ${shown.unit} (best single unit of the trained model, mean hidden state) over a few test messages,
blue = negative, red = positive hidden state after each character (its mean over a message is the feature):

![unit ${shown.unit}](${relative(EXAMPLE, SVG)})

## Commands and full reports

${rows.map(({ name, run }) => `### ${name}\n\n    ${run.command}\n\n\`\`\`\n${run.stdout.trimEnd()}\n\`\`\``).join('\n\n')}
`;
  writeFileSync(join(EXAMPLE, 'RESULTS.md'), md);
  console.log(`\nwrote examples/spam/RESULTS.md (total ${minutes(total)})`);
}

main().catch((e) => {
  console.error(`spam-example: ${e.message}`);
  process.exitCode = 1;
});
