export {
  BYTES_VOCABULARY,
  buildCharVocabulary,
  describeCharacter,
  describeUnknown,
  TextCodec,
  trainingVocabulary,
  UNKNOWN_SHOWN,
  UNKNOWN_SYMBOL,
  vocabularySize,
  type EncodedText,
  type Vocabulary,
} from './vocabulary.js';
export { decodeUtf8Strict, firstInvalidUtf8Offset } from './utf8.js';
export { DEFAULT_VALID_FRACTION, splitTrainValid, tokensFingerprint, type TrainValidSplit } from './split.js';
export { DataError, WindowStreams, type StreamCursor } from './streams.js';
export { InputError, isInputError, type InputErrorKind } from './input-error.js';
