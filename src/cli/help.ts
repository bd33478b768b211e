import { formatHelp, HELP_FLAG, switchFlag, valueFlag, type FlagSpecs } from './args.js';

const THREADS_FLAG = {
  threads: valueFlag('N', 'threads for the large matrix products (default: the CPU count, at most 4); any N gives the same numbers'),
} as const satisfies FlagSpecs;

export const TRAIN_FLAGS = {
  data: valueFlag('FILE', 'training text (required); its last 5% is the validation text unless --valid is given'),
  valid: valueFlag('FILE', 'validation text (then all of --data is trained on)'),
  out: valueFlag('FILE', 'checkpoint to write (required), e.g. runs/model.safetensors; the loss curves go beside it as .svg'),
  resume: switchFlag('continue the run saved in --out (model, optimiser, step, data position, RNG)'),
  bytes: switchFlag('byte-level model (V = 256, UTF-8 bytes) instead of the characters of --data'),
  cell: valueFlag('KIND', 'mlstm (default), lstm or mrnn'),
  'weight-norm': switchFlag('weight-normalised matrices (W = g·v/‖v‖ per row)'),
  hidden: valueFlag('N', 'hidden units per layer (default 128)'),
  embed: valueFlag('N', 'embedding size (default 32)'),
  layers: valueFlag('N', 'stacked layers (default 1)'),
  dropout: valueFlag('X', 'dropout between stacked layers (training only), in [0, 1) (default 0)'),
  batch: valueFlag('N', 'parallel streams B (default 32)'),
  seq: valueFlag('N', 'window length T for truncated BPTT (default 64)'),
  steps: valueFlag('N', 'total training steps, one window each (default 1000)'),
  lr: valueFlag('X', 'learning rate (default 3e-3)'),
  optimizer: valueFlag('NAME', 'adam (default) or adamw'),
  'weight-decay': valueFlag('X', 'weight decay (L2 for adam, decoupled for adamw; default 0)'),
  schedule: valueFlag('KIND', 'learning-rate schedule: constant (default), linear or cosine decay to 0 at --steps'),
  warmup: valueFlag('N', 'linear warm-up steps before the schedule (default 0)'),
  clip: valueFlag('X', 'clip the global gradient norm to X; 0 = off (default 1)'),
  seed: valueFlag('N', 'random seed: the same seed gives the same numbers (default 0)'),
  'valid-every': valueFlag('N', 'validate every N steps (default: 5 times per run)'),
  'checkpoint-every': valueFlag('N', 'save a checkpoint every N steps (default: as --valid-every)'),
  'log-every': valueFlag('N', 'when not on a terminal, print progress every N steps (default: 20 lines per run)'),
  'max-bad-steps': valueFlag('N', 'stop after N non-finite steps in a row (default 5)'),
  ...THREADS_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

export const SAMPLE_FLAGS = {
  length: valueFlag('N', 'characters to generate (bytes for a byte-level model; default 500)'),
  temperature: valueFlag('X', 'softmax temperature, 0 = most likely character (default 1)'),
  'top-k': valueFlag('K', 'sample among the K most likely characters only; 0 = all (default 0)'),
  prime: valueFlag('TEXT', 'text to start from (printed before the generated text)'),
  seed: valueFlag('N', 'random seed: the same seed gives the same text (default 0)'),
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

export const EVAL_FLAGS = {
  dynamic: switchFlag('also report bits/char under dynamic evaluation (Krause et al. 2017, SGD)'),
  'dynamic-lr': valueFlag('X', 'SGD learning rate of dynamic evaluation (default 0.02)'),
  'dynamic-seq': valueFlag('N', 'segment length of dynamic evaluation (default 50)'),
  batch: valueFlag('N', 'score the text as N parallel streams (faster; default 1 = one sequence)'),
  json: switchFlag('print one JSON object instead: bpc and nats to full precision, predictions scored, streams (and dynamic_*)'),
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
