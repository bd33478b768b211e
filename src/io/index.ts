/** Runtime-neutral I/O: safetensors over bytes, and model checkpoints. */
export * from './safetensors.js';
export * from './checkpoint.js';
