/** `mlstm score [MODEL] FILE`: how surprising a text is to a model, character by character. */
import { decodeUtf8Strict } from '../../data/utf8.js';
import type { Backend } from '../../tensor/backend.js';
import { surprisingSpans } from '../../model/spans.js';
import { formatHelp, HELP_FLAG, switchFlag, valueFlag, type CommandLine, type FlagSpecs } from '../args.js';
import { defineCommand } from '../command.js';
import { CliError, EXIT_OK, UsageError } from '../errors.js';
import { readInputFile, unknownLine } from '../files.js';
import { loadTextModel } from '../text-model-file.js';
import { BACKEND_FLAG, readBackend, withThreads, type BackendKind } from '../threads.js';

const CMD = 'score';

export const SCORE_FLAGS = {
  json: switchFlag('print one JSON object: bpc, bits, characters, unknown characters, spans (with line, column and text)'),
  spans: valueFlag('N', 'list the N most surprising spans (default 5; 0 = none)'),
  'span-width': valueFlag('W', 'characters per span (default 20)'),
  ...BACKEND_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

const SCORE_HELP = formatHelp(
  'mlstm score [MODEL] FILE [--json] [--spans N] [--span-width W] [--backend js|wasm]',
  'Print how surprising FILE is to the model: its bits per character ("bpc <value>") and the most surprising\n' +
    'spans. Every character is scored, the first one after the start context (a newline), the state carried\n' +
    'through the whole text (mlstm eval scores the N − 1 characters after the first). Characters outside the\n' +
    'model\'s vocabulary are read as U+FFFD and counted ("unknown <count>"). Without MODEL, the model shipped\n' +
    'in the package (an mLSTM trained on Moby-Dick).',
  SCORE_FLAGS,
);

interface ScoreCommandOptions {
  /** The checkpoint, or undefined for the shipped model. */
  modelPath: string | undefined;
  textPath: string;
  json: boolean;
  spans: number;
  spanWidth: number;
  backend: BackendKind;
}

function parse({ args, f }: CommandLine): ScoreCommandOptions {
  const p = args.positionals;
  if (p.length === 0) throw new UsageError(`${CMD}: missing FILE (see mlstm ${CMD} --help)`);
  if (p.length > 2) throw new UsageError(`${CMD}: unexpected argument '${p[2]}' (expected [MODEL] FILE)`);
  return {
    modelPath: p.length === 2 ? p[0] : undefined,
    textPath: p[p.length - 1]!,
    json: f.flag('json'),
    spans: f.int('spans', 5, 0, 1000),
    spanWidth: f.int('span-width', 20, 1, 1 << 20),
    backend: readBackend(f),
  };
}

/** Line and column (1-based) of token offsets, in characters (bytes for a byte-level model). */
function positions(tokens: ArrayLike<number>, newline: number, offsets: readonly number[]): { line: number; column: number }[] {
  const wanted = [...offsets].sort((a, b) => a - b);
  const at = new Map<number, { line: number; column: number }>();
  let line = 1;
  let column = 1;
  let k = 0;
  for (let i = 0; k < wanted.length && i <= tokens.length; i++) {
    while (k < wanted.length && wanted[k] === i) at.set(wanted[k++]!, { line, column });
    if (tokens[i] === newline) {
      line++;
      column = 1;
    } else column++;
  }
  return offsets.map((o) => at.get(o)!);
}

function execute(o: ScoreCommandOptions): Promise<number> {
  return withThreads(1, (backend) => scoreFile(o, backend), o.backend);
}

async function scoreFile(o: ScoreCommandOptions, backend: Backend): Promise<number> {
  const bytes = readInputFile(o.textPath, `'${o.textPath}'`);
  const { model, name } = await loadTextModel(o.modelPath, backend);
  const input = model.unit === 'byte' ? bytes : decodeUtf8Strict(bytes, o.textPath);
  model.reset();
  const r = model.score(input, { source: o.textPath });
  if (r.characters === 0) throw new CliError(`'${o.textPath}' has no characters to score`);
  const spans = surprisingSpans(r.bits!, { width: o.spanWidth, count: o.spans });
  const units: ArrayLike<number> = typeof input === 'string' ? model.codec.encodeText(input).tokens : input;
  const newline = model.unit === 'byte' ? 10 : model.symbols.indexOf('\n');
  const where = positions(
    units,
    newline,
    spans.map((s) => s.start),
  );
  const chars = typeof input === 'string' ? Array.from(input) : null;
  const report = spans.map((s, i) => ({
    start: s.start,
    end: s.end,
    line: where[i]!.line,
    column: where[i]!.column,
    bpc: s.bits / (s.end - s.start),
    // a byte-level span is decoded as UTF-8 (a character cut at its edge shows as U+FFFD)
    text: chars ? chars.slice(s.start, s.end).join('') : new TextDecoder('utf-8').decode((input as Uint8Array).subarray(s.start, s.end)),
  }));
  if (o.json) {
    const out = {
      model: name,
      file: o.textPath,
      bpc: r.bpc,
      bits: r.totalBits,
      characters: r.characters,
      unit: model.unit,
      unknown: r.unknown,
      unknown_characters: r.unknownCharacters,
      unknown_bits: r.unknownBits,
      spans: report,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return EXIT_OK;
  }
  const unit = model.unit === 'byte' ? 'bytes' : 'characters';
  const lines = [`bpc ${r.bpc.toFixed(4)}`, `${unit} ${r.characters}`, unknownLine(r)];
  if (report.length > 0) {
    lines.push(`most surprising spans (${o.spanWidth} ${unit}, bits per ${model.unit}):`);
    for (const s of report) lines.push(`  ${s.bpc.toFixed(2).padStart(6)}  line ${s.line}, column ${s.column}: ${JSON.stringify(s.text)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

export const run = defineCommand({ name: CMD, flags: SCORE_FLAGS, help: SCORE_HELP, parse, execute });
