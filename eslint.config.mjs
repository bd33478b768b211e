// Lint rules, configured once (npm run lint; CI runs it before the tests). TypeScript gets the
// recommended rules plus the type-aware ones that catch what a reviewer misses: a promise nobody
// awaits, an async function passed where a callback must be synchronous, a value computed and
// dropped. Plain JavaScript (bench, demo, scripts, tools) gets the core recommended rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = {
  process: 'readonly',
  console: 'readonly',
  Buffer: 'readonly',
  URL: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  setInterval: 'readonly',
  clearInterval: 'readonly',
  setImmediate: 'readonly',
  performance: 'readonly',
  TextEncoder: 'readonly',
  TextDecoder: 'readonly',
  SharedArrayBuffer: 'readonly',
  Atomics: 'readonly',
  WebAssembly: 'readonly',
  structuredClone: 'readonly',
  queueMicrotask: 'readonly',
  globalThis: 'readonly',
  fetch: 'readonly',
  AbortController: 'readonly',
};
const browserGlobals = {
  window: 'readonly',
  document: 'readonly',
  self: 'readonly',
  location: 'readonly',
  navigator: 'readonly',
  Worker: 'readonly',
  Blob: 'readonly',
  requestAnimationFrame: 'readonly',
  postMessage: 'readonly',
  onmessage: 'writable',
  crossOriginIsolated: 'readonly',
  HTMLElement: 'readonly',
  MessageEvent: 'readonly',
  Event: 'readonly',
  getComputedStyle: 'readonly',
  alert: 'readonly',
  ResizeObserver: 'readonly',
  Option: 'readonly',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'bench/peers/node_modules/**',
      'bench/results/**',
      'runs/**',
      'coverage/**',
      'python/**',
      'src/model/default-model-data.ts', // the shipped model as base64, generated
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['vitest.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-unused-expressions': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off', // indexing typed arrays in kernels: `a[i]!` is the house style under noUncheckedIndexedAccess-like reading
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always'],
      'prefer-const': 'error',
    },
  },
  {
    // Tests match terminal output: escape codes and runs of spaces are what they assert on.
    files: ['test/**/*.ts'],
    rules: { 'no-control-regex': 'off', 'no-regex-spaces': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...nodeGlobals, ...browserGlobals },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always'],
      'prefer-const': 'error',
    },
  },
);
