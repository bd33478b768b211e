import type { CellKind } from '../nn/cells/index.js';

/**
 * Parameter counts of a character model (docs/CONTRACT.md layouts), in closed form, and the hidden sizes that
 * give different cells the same count: the comparison of Krause et al. (2016) is at equal parameters.
 */

/** What every model of a comparison shares: the vocabulary, the embedding and the depth. */
export interface SharedShape {
  vocab: number;
  embed: number;
  layers: number;
}

/** Parameters of one recurrent layer reading D inputs with H units (no weight norm). */
export function layerParameters(cell: CellKind, D: number, H: number): number {
  switch (cell) {
    case 'mlstm': // wmx [H,D], wmh [H,H], whx [4H,D], whm [4H,H], bias [4H]
      return 5 * H * D + 5 * H * H + 4 * H;
    case 'lstm': // wx [4H,D], wh [4H,H], bias [4H]
      return 4 * H * D + 4 * H * H + 4 * H;
    case 'mrnn': // wmx [H,D], wmh [H,H], whx [H,D], whm [H,H], bias [H]
      return 2 * H * D + 2 * H * H + H;
  }
}

/** All parameters of a CharLM: embed.weight [V,E], the layers (layer 0 reads E, the others H), head [V,H] + [V]. */
export function parameterCount(cell: CellKind, hidden: number, shape: SharedShape): number {
  const { vocab: V, embed: E, layers: L } = shape;
  let n = V * E + V * hidden + V;
  for (let l = 0; l < L; l++) n += layerParameters(cell, l === 0 ? E : hidden, hidden);
  return n;
}

/** One cell's size in a comparison. */
export interface MatchedSize {
  cell: CellKind;
  hidden: number;
  params: number;
  /** params / (the reference's params) − 1: 0 for the reference itself. */
  difference: number;
}

/**
 * The hidden size of each of `cells` whose parameter count is closest to that of `reference` (a cell
 * at a given H; it is listed with its own H). A count grows with H, so the closest H is found by
 * bisection. The caller checks `difference` against its tolerance (the counts move in steps of about
 * 2/H, so small models may not match within 1%).
 */
export function matchSizes(cells: readonly CellKind[], reference: { cell: CellKind; hidden: number }, shape: SharedShape): MatchedSize[] {
  const target = parameterCount(reference.cell, reference.hidden, shape);
  return cells.map((cell) => {
    let hidden = reference.hidden;
    if (cell !== reference.cell) {
      let lo = 1;
      let hi = 2;
      while (parameterCount(cell, hi, shape) < target) hi *= 2;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (parameterCount(cell, mid, shape) < target) lo = mid;
        else hi = mid;
      }
      // lo is below the target (or 1), hi at or above it: take the nearer; a tie goes to the smaller model
      hidden = target - parameterCount(cell, lo, shape) <= parameterCount(cell, hi, shape) - target ? lo : hi;
    }
    const params = parameterCount(cell, hidden, shape);
    return { cell, hidden, params, difference: params / target - 1 };
  });
}
