/** `mlstm features CKPT FILE.tsv`: one feature vector per labelled text, from a trained model. */
import { encodeFeaturesSafetensors, formatFeaturesTsv, type LabelledFeatures } from '../../features/format.js';
import { describePool, type Pool } from '../../features/extract.js';
import { expectPositionals, formatHelp, HELP_FLAG, valueFlag, type CommandLine, type FlagSpecs } from '../args.js';
import { loadCheckpointFile } from '../checkpoint-file.js';
import { defineCommand } from '../command.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { featuresOfExamples, POOL_FLAG, readFeatureFlags, readLabelledFile, TEXT_BATCH_FLAG } from '../labelled-input.js';
import { writeOutputFile } from '../saving.js';

const CMD = 'features';

export const FEATURES_FLAGS = {
  out: valueFlag('FILE', 'write here (default: TSV on stdout); .tsv/.txt → TSV, anything else → safetensors, unless --format'),
  ...POOL_FLAG,
  format: valueFlag('KIND', 'safetensors (features [N,H] F32, labels in the metadata) or tsv (label, then H numbers)'),
  ...TEXT_BATCH_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

const FEATURES_HELP = formatHelp(
  'mlstm features CHECKPOINT FILE.tsv [--out FILE] [--pool mean|last|mean+last] [--format safetensors|tsv]',
  'Run the model over each text of FILE.tsv (lines "label<TAB>text"; \\n, \\t, \\\\ in the text are a newline,\n' +
    "a tab, a backslash) and write one feature vector per text: the mean of the top layer's hidden state over\n" +
    'the text (default), its final cell state, or both. Texts are batched (no gradients); each text starts from\n' +
    "a zero state, so its features do not depend on the other texts. Characters outside the model's vocabulary\n" +
    'are read as U+FFFD (if it has it) and counted.',
  FEATURES_FLAGS,
);

interface FeaturesCommandOptions {
  checkpointPath: string;
  tsvPath: string;
  pool: Pool;
  batch: number;
  /** The output file, or undefined for TSV on stdout. */
  out: string | undefined;
  format: 'safetensors' | 'tsv';
}

function parse({ args, f }: CommandLine): FeaturesCommandOptions {
  const [checkpointPath, tsvPath] = expectPositionals(CMD, args.positionals, ['CHECKPOINT', 'FILE.tsv']);
  const { pool, batch } = readFeatureFlags(f);
  const out = f.string('out');
  const inferred = out !== undefined && !/\.(tsv|txt)$/i.test(out) ? 'safetensors' : 'tsv';
  const format = f.choice<'safetensors' | 'tsv'>('format', inferred, ['safetensors', 'tsv']);
  if (format === 'safetensors' && out === undefined)
    throw new UsageError(`${CMD}: --format safetensors needs --out FILE (stdout gets TSV)`);
  return { checkpointPath, tsvPath, pool, batch, out, format };
}

async function execute(o: FeaturesCommandOptions): Promise<number> {
  const { tsvPath, pool, out } = o;
  const examples = readLabelledFile(tsvPath, 'texts');
  const { model, vocab } = loadCheckpointFile(o.checkpointPath);
  const { features, seconds, unknown } = featuresOfExamples(model, vocab, examples, tsvPath, pool, o.batch);
  const labelled: LabelledFeatures = { features, labels: examples.map((e) => e.label), pool, checkpoint: o.checkpointPath };
  if (out === undefined) {
    process.stdout.write(formatFeaturesTsv(labelled));
  } else {
    const bytes = o.format === 'safetensors' ? encodeFeaturesSafetensors(labelled) : new TextEncoder().encode(formatFeaturesTsv(labelled));
    await writeOutputFile(out, bytes);
  }
  process.stderr.write(
    `features: ${features.rows} texts × ${features.cols} units (pool ${pool}: ${describePool(pool)}) in ${seconds.toFixed(1)}s${out ? ` → ${out}` : ''}\n`,
  );
  if (unknown) process.stderr.write(`features: ${unknown}\n`);
  return EXIT_OK;
}

export const run = defineCommand({ name: CMD, flags: FEATURES_FLAGS, help: FEATURES_HELP, parse, execute });
