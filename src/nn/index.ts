/** Modules, cells, layers and the character language model. */
export { Module, Parameter, type StateDict, type LoadOptions } from './module.js';
export * from './cells/index.js';
export { mlstmSequence, mlstmStep, type MLSTMWeights, type MLSTMSequenceResult, type MLSTMStepResult } from './functional/mlstm.js';
export { lstmSequence, lstmStep, type LSTMWeights, type LSTMSequenceResult, type LSTMStepResult } from './functional/lstm.js';
export { mrnnSequence, mrnnStep, type MRNNWeights, type MRNNSequenceResult, type MRNNStepResult } from './functional/mrnn.js';
export { weightNorm } from './functional/weight-norm.js';
export { dropout } from './functional/dropout.js';
export * from './init.js';
export { Linear, Embedding, Dropout, ModuleList } from './layers.js';
export { StackedRNN, detachState, type StackedRNNOptions, type StackedForwardResult } from './stacked-rnn.js';
export {
  allocateWindowMasks,
  applyEmbeddingMask,
  checkWindowDropout,
  drawWindowMasks,
  type WindowDropout,
  type WindowMasks,
  type WindowMaskSizes,
} from './window-dropout.js';
export { CharLM, validateCharLMConfig, type CharLMConfig, type CharLMOptions, type CharLMForward } from './charlm.js';
export type { LayerState } from './state.js';
