import type { Var } from '../autograd/var.js';

/**
 * The recurrent state of one layer between steps and windows: h [B,H], and c [B,H] for the cells that have
 * one (null for the mRNN). One name from the fused ops up: what a cell's zeroState makes and its step and
 * forward return, what the CharLM and the trainer carry across windows (Var), and what a TextModel's
 * `state` holds per layer (LayerState<Float32Array>, plain arrays to keep or post to a worker).
 */
export interface LayerState<T = Var> {
  h: T;
  c: T | null;
}
