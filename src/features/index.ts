/** Text features from a trained character model: labelled TSV in, one feature row per text out. */
export * from './tsv.js';
export * from './extract.js';
export * from './format.js';
