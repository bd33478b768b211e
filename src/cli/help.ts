import { formatHelp, type FlagSpecs } from './args.js';

const HELP_FLAG = { help: { type: 'boolean', short: 'h', help: 'show this help' } } as const satisfies FlagSpecs;
const THREADS_FLAG = {
  threads: { type: 'string', value: 'N', help: 'threads for the large matrix products (default: the CPU count, at most 4); any N gives the same numbers' },
} as const satisfies FlagSpecs;

export const TRAIN_FLAGS = {
  data: { type: 'string', value: 'FILE', help: 'training text (required); its last 5% is the validation text unless --valid is given' },
  valid: { type: 'string', value: 'FILE', help: 'validation text (then all of --data is trained on)' },
  out: { type: 'string', value: 'FILE', help: 'checkpoint to write (required), e.g. runs/model.safetensors; the loss curves go beside it as .svg' },
  resume: { type: 'boolean', help: 'continue the run saved in --out (model, optimiser, step, data position, RNG)' },
  bytes: { type: 'boolean', help: 'byte-level model (V = 256, UTF-8 bytes) instead of the characters of --data' },
  cell: { type: 'string', value: 'KIND', help: 'mlstm (default), lstm or mrnn' },
  'weight-norm': { type: 'boolean', help: 'weight-normalised matrices (W = g·v/‖v‖ per row)' },
  hidden: { type: 'string', value: 'N', help: 'hidden units per layer (default 128)' },
  embed: { type: 'string', value: 'N', help: 'embedding size (default 32)' },
  layers: { type: 'string', value: 'N', help: 'stacked layers (default 1)' },
  dropout: { type: 'string', value: 'X', help: 'dropout between stacked layers (training only), in [0, 1) (default 0)' },
  batch: { type: 'string', value: 'N', help: 'parallel streams B (default 32)' },
  seq: { type: 'string', value: 'N', help: 'window length T for truncated BPTT (default 64)' },
  steps: { type: 'string', value: 'N', help: 'total training steps, one window each (default 1000)' },
  lr: { type: 'string', value: 'X', help: 'learning rate (default 3e-3)' },
  optimizer: { type: 'string', value: 'NAME', help: 'adam (default) or adamw' },
  'weight-decay': { type: 'string', value: 'X', help: 'weight decay (L2 for adam, decoupled for adamw; default 0)' },
  schedule: { type: 'string', value: 'KIND', help: 'learning-rate schedule: constant (default), linear or cosine decay to 0 at --steps' },
  warmup: { type: 'string', value: 'N', help: 'linear warm-up steps before the schedule (default 0)' },
  clip: { type: 'string', value: 'X', help: 'clip the global gradient norm to X; 0 = off (default 1)' },
  seed: { type: 'string', value: 'N', help: 'random seed: the same seed gives the same numbers (default 0)' },
  'valid-every': { type: 'string', value: 'N', help: 'validate every N steps (default: 5 times per run)' },
  'checkpoint-every': { type: 'string', value: 'N', help: 'save a checkpoint every N steps (default: as --valid-every)' },
  'log-every': { type: 'string', value: 'N', help: 'when not on a terminal, print progress every N steps (default: 20 lines per run)' },
  'max-bad-steps': { type: 'string', value: 'N', help: 'stop after N non-finite steps in a row (default 5)' },
  ...THREADS_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

export const SAMPLE_FLAGS = {
  length: { type: 'string', value: 'N', help: 'characters to generate (bytes for a byte-level model; default 500)' },
  temperature: { type: 'string', value: 'X', help: 'softmax temperature, 0 = most likely character (default 1)' },
  'top-k': { type: 'string', value: 'K', help: 'sample among the K most likely characters only; 0 = all (default 0)' },
  prime: { type: 'string', value: 'TEXT', help: 'text to start from (printed before the generated text)' },
  seed: { type: 'string', value: 'N', help: 'random seed: the same seed gives the same text (default 0)' },
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

export const EVAL_FLAGS = {
  dynamic: { type: 'boolean', help: 'also report bits/char under dynamic evaluation (Krause et al. 2017, SGD)' },
  'dynamic-lr': { type: 'string', value: 'X', help: 'SGD learning rate of dynamic evaluation (default 0.02)' },
  'dynamic-seq': { type: 'string', value: 'N', help: 'segment length of dynamic evaluation (default 50)' },
  batch: { type: 'string', value: 'N', help: 'score the text as N parallel streams (faster; default 1 = one sequence)' },
  ...THREADS_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

export const TRAIN_HELP = formatHelp(
  'mlstm train --data FILE --out FILE.safetensors [options]',
  'Train a character-level language model with truncated backpropagation through time.\n' +
    'Shows step/steps, training bits/char, characters per second and ETA, and validation bits/char as it\n' +
    'goes. Checkpoints are written atomically; Ctrl-C saves one and exits (code 130); --resume continues it.',
  TRAIN_FLAGS,
);

export const SAMPLE_HELP = formatHelp(
  'mlstm sample CHECKPOINT [options]',
  'Generate text from a trained model. The same seed gives the same text.',
  SAMPLE_FLAGS,
);

export const EVAL_HELP = formatHelp(
  'mlstm eval CHECKPOINT FILE [--dynamic [--dynamic-lr X]]',
  'Print the bits per character of FILE under the model ("bpc <value>"), the hidden state carried\n' +
    'through the whole text. With --dynamic, also "dynamic bpc <value>": the model takes an SGD step on\n' +
    'each segment right after scoring it, so it adapts to the text as it reads.',
  EVAL_FLAGS,
);

export const MAIN_HELP = `Usage: mlstm <command> [options]

Character-level multiplicative-LSTM language models (Krause et al. 2016) in TypeScript.

Commands:
  train    train a model on a text file            mlstm train --data data/moby-dick.txt --out runs/moby.safetensors
  sample   generate text from a checkpoint         mlstm sample runs/moby.safetensors --prime "Call me "
  eval     bits/char of a text (and dynamic eval)  mlstm eval runs/moby.safetensors FILE --dynamic
  features feature vectors of labelled texts       mlstm features runs/moby.safetensors texts.tsv --out f.safetensors
  probe    which hidden units track a label        mlstm probe runs/moby.safetensors --train a.tsv --test b.tsv

Run "mlstm <command> --help" for a command's options.
Exit codes: 0 success, 1 bad input or failed run, 2 bad command line, 130 interrupted (checkpoint saved).
`;
