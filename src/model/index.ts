/** A trained model as an app component: load, stream, score, feed, embed (runtime-neutral). */
export {
  Generation,
  loadModel,
  surprisalBits,
  TextModel,
  type GenerateAsyncOptions,
  type GenerateOptions,
  type ModelState,
  type Prediction,
  type ReadResult,
  type ScoreOptions,
  type ScoreResult,
  type TextModelOptions,
} from './text-model.js';
export { ModelStepper } from './stepper.js';
export { StopMatcher } from './stop.js';
export { surprisingSpans, type SurprisingSpan } from './spans.js';
export { sample, type SampleOptions } from './sample.js';
export { decodeBase64, defaultModel, loadDefaultModel } from './default-model.js';
