import { enableRelaxedSimd } from './relaxed-simd.js';

/*
 * Imported for its effect, first, by main.ts: turns on relaxed SIMD (Node 20's V8 11.3 keeps it behind
 * a flag) before the library's modules are evaluated, so that whatever later makes the default
 * backend detects the fused multiply-add. A module of its own because ES modules evaluate their
 * imports in order before their own body.
 */
enableRelaxedSimd();
