/**
 * `mlstm probe CKPT --train A.tsv --test B.tsv`: fit an L1 logistic-regression probe on the model's
 * features of the training texts, report its test accuracy, the units it relies on most and the best
 * single unit; optionally save the probe and draw the unit over a few test texts. With `--ngrams N` the
 * same probe is fitted on hashed character n-grams instead (the baseline; no checkpoint).
 */
import { describePool, featureWidth, unitTraces, type Pool } from '../../features/extract.js';
import type { LabelledText } from '../../features/tsv.js';
import { TextCodec, type Vocabulary } from '../../data/vocabulary.js';
import type { CharLM } from '../../nn/charlm.js';
import { DenseMatrix, type DesignMatrix } from '../../probe/design.js';
import { dominantNgrams, ngramMatrix } from '../../probe/ngrams.js';
import { encodeProbeSafetensors, probeToJSON } from '../../probe/persist.js';
import { accuracy, fitProbe, nonZeroUnits, predict, topUnits, type Probe } from '../../probe/probe.js';
import { bestSingleUnit, type SingleUnitResult } from '../../probe/single-unit.js';
import { renderUnitSvg, valuesPerCharacter, type UnitTraceText } from '../../probe/svg.js';
import { formatHelp, HELP_FLAG, valueFlag, type CommandLine, type FlagSpecs } from '../args.js';
import { loadCheckpointFile } from '../checkpoint-file.js';
import { defineCommand } from '../command.js';
import { CliError, EXIT_OK, UsageError } from '../errors.js';
import { countsLine, featuresOfExamples, POOL_FLAG, readFeatureFlags, readLabelledFile, TEXT_BATCH_FLAG } from '../labelled-input.js';
import { terminalStatusLine } from '../progress.js';
import { writeOutputFile } from '../saving.js';

const CMD = 'probe';
const SVG_CHARS = 320;

export const PROBE_FLAGS = {
  train: valueFlag('FILE', 'labelled training texts, lines "label<TAB>text" (required)'),
  test: valueFlag('FILE', 'labelled test texts, same format (required)'),
  l1: valueFlag('X', 'L1 strength λ on the mean log-loss of standardised features; default: chosen by cross-validation'),
  folds: valueFlag('N', 'cross-validation folds when --l1 is not given (default 3)'),
  ...POOL_FLAG,
  out: valueFlag('FILE', 'save the probe: JSON, or safetensors if FILE ends in .safetensors'),
  top: valueFlag('K', 'list the K units with the largest |weight| (default 10)'),
  svg: valueFlag('FILE', "draw a unit's value character by character over a few test texts"),
  'svg-unit': valueFlag('N', 'the unit to draw (default: the best single unit)'),
  'svg-texts': valueFlag('N', 'test texts to draw, taken in turn from each class (default 6)'),
  ...TEXT_BATCH_FLAG,
  ngrams: valueFlag('N', 'baseline: hashed character n-grams, n = 1..N, instead of a model (no CHECKPOINT)'),
  buckets: valueFlag('N', 'hash buckets of --ngrams (default 65536)'),
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

const PROBE_HELP = formatHelp(
  'mlstm probe CHECKPOINT --train A.tsv --test B.tsv [--l1 X] [--pool mean|last|mean+last] [--out PROBE] [--svg FILE]\n' +
    '       mlstm probe --ngrams 3 --train A.tsv --test B.tsv        (character n-gram baseline)',
  'Fit an L1-regularised logistic regression ("linear probe") on the model\'s features of the training texts\n' +
    '(standardised; labels are any strings, more than two classes are one-vs-rest) and print "accuracy <value>"\n' +
    'on the test texts, the units with the largest weights, and the best single unit: the one unit whose own\n' +
    '1-D logistic regression is most accurate on the training texts, with its test accuracy.',
  PROBE_FLAGS,
);

function fmt(v: number): string {
  return v.toFixed(4);
}

interface ProbeCommandOptions {
  /** The checkpoint, or null for the n-gram baseline. */
  checkpointPath: string | null;
  /** --ngrams: the longest n-gram of the baseline (with its hash buckets), or null for a model's features. */
  ngrams: { maxN: number; buckets: number } | null;
  trainPath: string;
  testPath: string;
  /** --l1, or undefined to choose it by cross-validation over `folds` folds. */
  lambda: number | undefined;
  folds: number;
  pool: Pool;
  batch: number;
  top: number;
  out: string | undefined;
  svg: { path: string; unit: number | undefined; texts: number } | null;
}

function parse({ args, f }: CommandLine): ProbeCommandOptions {
  const maxN = f.int('ngrams', undefined, 1, 16);
  const baseline = maxN !== undefined;
  if (baseline && args.positionals.length > 0)
    throw new UsageError(`${CMD}: --ngrams fits the n-gram baseline and takes no CHECKPOINT, got '${args.positionals[0]}'`);
  if (!baseline && args.positionals.length === 0)
    throw new UsageError(`${CMD}: missing CHECKPOINT (or --ngrams N for the n-gram baseline; see mlstm ${CMD} --help)`);
  if (args.positionals.length > 1) throw new UsageError(`${CMD}: unexpected argument '${args.positionals[1]}'`);
  if (!baseline && f.has('buckets')) throw new UsageError(`${CMD}: --buckets goes with --ngrams`);
  for (const flag of ['svg', 'svg-unit', 'svg-texts', 'pool', 'batch']) {
    if (baseline && f.has(flag)) throw new UsageError(`${CMD}: --${flag} needs a model; it does not apply to --ngrams`);
  }
  if (!f.has('svg') && (f.has('svg-unit') || f.has('svg-texts')))
    throw new UsageError(`${CMD}: --svg-unit and --svg-texts need --svg FILE`);
  const trainPath = f.requiredString('train', 'FILE.tsv of labelled training texts');
  const testPath = f.requiredString('test', 'FILE.tsv of labelled test texts');
  const lambda = f.has('l1') ? f.number('l1', 0, { min: 0, max: 1e6 }) : undefined;
  const folds = f.int('folds', 3, 2, 100);
  if (lambda !== undefined && f.has('folds'))
    throw new UsageError(`${CMD}: --folds chooses --l1 by cross-validation; give one or the other`);
  const { pool, batch } = readFeatureFlags(f);
  const top = f.int('top', 10, 0, 1 << 20);
  const buckets = f.int('buckets', 1 << 16, 1, 1 << 24);
  const svgPath = f.string('svg');
  const svgUnit = f.int('svg-unit', undefined, 0, 1 << 20);
  const svgTexts = f.int('svg-texts', 6, 1, 100);
  return {
    checkpointPath: baseline ? null : args.positionals[0]!,
    ngrams: baseline ? { maxN, buckets } : null,
    trainPath,
    testPath,
    lambda,
    folds,
    pool,
    batch,
    top,
    out: f.string('out'),
    svg: svgPath !== undefined ? { path: svgPath, unit: svgUnit, texts: svgTexts } : null,
  };
}

/** The probe's inputs: training and test design matrices, what they are, and the model (if any). */
interface ProbeFeatures {
  xTrain: DesignMatrix;
  xTest: DesignMatrix;
  info: Record<string, string | number>;
  loaded: { model: CharLM; vocab: Vocabulary } | null;
  seconds: number;
}

function ngramFeatures(ngrams: { maxN: number; buckets: number }, train: LabelledText[], test: LabelledText[]): ProbeFeatures {
  const xTrain = ngramMatrix(
    train.map((e) => e.text),
    ngrams,
  );
  const xTest = ngramMatrix(
    test.map((e) => e.text),
    ngrams,
  );
  process.stdout.write(`features: ${ngrams.buckets} hash buckets of character n-grams, n = 1..${ngrams.maxN}, as log(1 + count)\n`);
  return { xTrain, xTest, info: { features: 'ngrams', ...ngrams }, loaded: null, seconds: 0 };
}

function modelFeatures(o: ProbeCommandOptions, checkpointPath: string, train: LabelledText[], test: LabelledText[]): ProbeFeatures {
  const loaded = loadCheckpointFile(checkpointPath);
  const width = featureWidth(o.pool, loaded.model.config.hidden);
  const svgUnit = o.svg?.unit;
  if (svgUnit !== undefined && svgUnit >= width)
    throw new UsageError(`${CMD}: --svg-unit ${svgUnit} is out of range: pool ${o.pool} gives ${width} units`);
  const a = featuresOfExamples(loaded.model, loaded.vocab, train, o.trainPath, o.pool, o.batch);
  const b = featuresOfExamples(loaded.model, loaded.vocab, test, o.testPath, o.pool, o.batch);
  const xTrain = new DenseMatrix(a.features.data, a.features.rows, a.features.cols);
  const xTest = new DenseMatrix(b.features.data, b.features.rows, b.features.cols);
  process.stdout.write(`features: ${xTrain.cols} units, pool ${o.pool} (${describePool(o.pool)} of the top layer)\n`);
  if (a.unknown) process.stdout.write(`train: ${a.unknown}\n`);
  if (b.unknown) process.stdout.write(`test: ${b.unknown}\n`);
  return { xTrain, xTest, info: { features: 'mlstm', pool: o.pool, checkpoint: checkpointPath }, loaded, seconds: a.seconds + b.seconds };
}

/** Fit the probe with a status line; a training set it cannot fit is one line naming --train. */
function fitWithStatus(o: ProbeCommandOptions, x: ProbeFeatures, labels: string[]): ReturnType<typeof fitProbe> {
  const status = terminalStatusLine();
  try {
    return fitProbe(x.xTrain, labels, {
      lambda: o.lambda,
      folds: o.folds,
      info: x.info,
      onProgress: (message) => status.show(`probe: ${message}`),
    });
  } catch (e) {
    throw e instanceof RangeError ? new CliError(`--train '${o.trainPath}': ${e.message}`) : e;
  } finally {
    status.end();
  }
}

/** Print the fit: λ, sparsity, accuracies, the top units and the best single unit. */
function report(
  o: ProbeCommandOptions,
  fit: ReturnType<typeof fitProbe>,
  x: ProbeFeatures,
  train: LabelledText[],
  test: LabelledText[],
): { testPredicted: string[]; single: SingleUnitResult } {
  const { probe } = fit;
  const trainLabels = train.map((e) => e.label);
  const testLabels = test.map((e) => e.label);
  if (fit.crossValidation) {
    const cv = fit.crossValidation;
    const at = cv.lambdas.indexOf(probe.lambda);
    process.stdout.write(
      `l1 ${probe.lambda.toPrecision(3)} (${o.folds}-fold cross-validation over ${cv.lambdas.length} values; cv accuracy ${fmt(cv.accuracies[at]!)})\n`,
    );
  } else {
    process.stdout.write(`l1 ${probe.lambda}\n`);
  }
  process.stdout.write(`non-zero units: ${nonZeroUnits(probe)} of ${x.xTrain.cols}\n`);
  process.stdout.write(`train accuracy ${fmt(accuracy(predict(probe, x.xTrain), trainLabels))}\n`);
  const testPredicted = predict(probe, x.xTest);
  process.stdout.write(`accuracy ${fmt(accuracy(testPredicted, testLabels))}\n`);

  const classIndex = new Map(probe.classes.map((c, k) => [c, k]));
  const trainTargets = Int32Array.from(trainLabels, (l) => classIndex.get(l)!);
  const testTargets = Int32Array.from(testLabels, (l) => classIndex.get(l) ?? -1); // an unseen test label is always wrong
  const unseen = [...new Set(testLabels.filter((l) => !classIndex.has(l)))];
  if (unseen.length > 0)
    process.stderr.write(
      `probe: warning: test labels absent from the training texts count as errors: ${unseen.map((l) => JSON.stringify(l)).join(', ')}\n`,
    );
  const single = bestSingleUnit(x.xTrain, trainTargets, x.xTest, testTargets, probe.classes.length);
  const units = topUnits(probe, o.top);
  // Hashed columns get the n-gram that fills them most often in the training texts as a name.
  const names = o.ngrams
    ? dominantNgrams(
        train.map((e) => e.text),
        [...units.map((u) => u.unit), single.unit],
        o.ngrams,
      )
    : null;
  const nameOf = (unit: number): string => (names ? JSON.stringify(names.get(unit) ?? '') : '');
  if (units.length > 0) {
    const binary = probe.classes.length === 2;
    process.stdout.write(
      binary
        ? `top units (|weight| on the standardised unit, and the class it speaks for):\n`
        : `top units (weight on the standardised unit in one class's one-vs-rest classifier: + for it, − against it):\n`,
    );
    for (const u of units) {
      const weight = binary ? Math.abs(u.weight).toFixed(4) : `${u.weight >= 0 ? '+' : '−'}${Math.abs(u.weight).toFixed(4)}`;
      process.stdout.write(`  unit ${String(u.unit).padStart(5)}  ${weight}  ${u.class}${names ? `  ${nameOf(u.unit)}` : ''}\n`);
    }
  }
  let rule = '';
  if (single.threshold !== undefined)
    rule = `; ${probe.classes[single.slopes[0]! > 0 ? 1 : 0]} when above ${single.threshold.toPrecision(4)}`;
  process.stdout.write(
    `best single unit ${single.unit}${names ? ` ${nameOf(single.unit)}` : ''}: accuracy ${fmt(single.testAccuracy)} (train ${fmt(single.trainAccuracy)}${rule})\n`,
  );
  return { testPredicted, single };
}

async function execute(o: ProbeCommandOptions): Promise<number> {
  const train = readLabelledFile(o.trainPath, '--train');
  const test = readLabelledFile(o.testPath, '--test');
  process.stdout.write(`train: ${countsLine(train)}\ntest: ${countsLine(test)}\n`);
  const x = o.ngrams ? ngramFeatures(o.ngrams, train, test) : modelFeatures(o, o.checkpointPath!, train, test);
  const started = performance.now();
  const fit = fitWithStatus(
    o,
    x,
    train.map((e) => e.label),
  );
  const fitSeconds = (performance.now() - started) / 1000;
  const { probe } = fit;
  const { testPredicted, single } = report(o, fit, x, train, test);

  const { out, svg } = o;
  if (out !== undefined) {
    await writeOutputFile(out, out.endsWith('.safetensors') ? encodeProbeSafetensors(probe) : new TextEncoder().encode(probeToJSON(probe)));
    process.stdout.write(`probe written to ${out}\n`);
  }
  if (svg !== null && x.loaded) {
    const unit = svg.unit ?? single.unit;
    const chosen = pickTexts(test, probe.classes, svg.texts);
    const drawing = drawUnit(x.loaded.model, x.loaded.vocab, chosen, testPredicted, unit, o.pool, probe);
    await writeOutputFile(svg.path, new TextEncoder().encode(drawing));
    process.stdout.write(`unit ${unit} drawn over ${chosen.length} test texts in ${svg.path}\n`);
  }
  process.stderr.write(
    `probe: ${o.ngrams ? '' : `features ${x.seconds.toFixed(1)}s, `}fit ${fitSeconds.toFixed(1)}s${fit.unconverged > 0 ? `; warning: ${fit.unconverged} classifier(s) stopped at the iteration limit` : ''}\n`,
  );
  return EXIT_OK;
}

export const run = defineCommand({ name: CMD, flags: PROBE_FLAGS, help: PROBE_HELP, parse, execute });

/** Up to `count` test examples (with their row index), taking them in turn from each class. */
function pickTexts(test: readonly LabelledText[], classes: readonly string[], count: number): { example: LabelledText; row: number }[] {
  const queues = classes.map((c) => test.map((example, row) => ({ example, row })).filter((e) => e.example.label === c));
  const out: { example: LabelledText; row: number }[] = [];
  for (let round = 0; out.length < count && queues.some((q) => q.length > round); round++) {
    for (const q of queues) if (q[round] && out.length < count) out.push(q[round]!);
  }
  return out;
}

function drawUnit(
  model: CharLM,
  vocab: Vocabulary,
  chosen: { example: LabelledText; row: number }[],
  predicted: string[],
  unit: number,
  pool: Pool,
  probe: Probe,
): string {
  const codec = new TextCodec(vocab);
  const texts: UnitTraceText[] = chosen.map(({ example, row }) => {
    // The state after character i depends only on characters ≤ i, so tracing the shown prefix is exact.
    const text = Array.from(example.text).slice(0, SVG_CHARS).join('');
    const trace = unitTraces(model, codec.encode(text), pool);
    const perToken = Float64Array.from({ length: trace.rows }, (_, t) => trace.data[t * trace.cols + unit]!);
    const values = valuesPerCharacter(text, perToken, vocab.kind);
    const suffix = Array.from(example.text).length > SVG_CHARS ? ` (first ${SVG_CHARS} characters)` : '';
    return { text, values, caption: `line ${example.line}: ${example.label} — probe says ${predicted[row]}${suffix}` };
  });
  // A unit's column: h for a `mean` column, c for a `last` one (mean+last: the first H columns are mean).
  const what = pool === 'last' || (pool === 'mean+last' && unit >= model.config.hidden) ? 'cell state c' : 'hidden state h';
  return renderUnitSvg(texts, {
    title: `unit ${unit} (${what}) after each character — probe classes: ${probe.classes.join(' / ')}`,
    maxChars: SVG_CHARS,
  });
}
