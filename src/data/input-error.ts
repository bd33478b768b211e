/**
 * The one error for bad input at a position: a character the vocabulary lacks, a byte that is not
 * UTF-8, a malformed line of a labelled TSV. The message already names the source, the position and
 * what is wrong (the CLI prints it as it is); `position` carries the number for code that acts on it.
 */
export type InputErrorKind =
  /**
   * a character outside the vocabulary (`position`: its 0-based character offset in the text), or a vocabulary
   * or token sequence the codec cannot use (`position`: the index of the symbol or token at fault)
   */
  | 'vocabulary'
  /** input that is not UTF-8; `position` is the 0-based byte offset of the first bad byte */
  | 'utf8'
  /** a malformed labelled TSV; `position` is the 1-based line number */
  | 'tsv';

export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly kind: InputErrorKind,
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

/** Whether `e` is an InputError of that kind. */
export const isInputError = (e: unknown, kind: InputErrorKind): e is InputError => e instanceof InputError && e.kind === kind;
