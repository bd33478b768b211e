/** Linear probes: L1-regularised logistic regression on features, the best single unit, n-gram baseline, pictures. */
export * from './design.js';
export * from './logistic.js';
export * from './probe.js';
export * from './single-unit.js';
export * from './persist.js';
export * from './ngrams.js';
export * from './svg.js';
