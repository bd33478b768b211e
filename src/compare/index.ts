/** The paper's experiment: cells compared at equal parameters on the same data, budget and seeds. */
export { layerParameters, matchSizes, parameterCount, type MatchedSize, type SharedShape } from './sizes.js';
export { planBudget, runSeconds, type BudgetPlan, type BudgetRequest, type CellTiming } from './budget.js';
export {
  calibrate,
  comparisonModel,
  runComparisonOne,
  type CalibrationOptions,
  type ComparisonRun,
  type ComparisonSetup,
  type CurvePoint,
  type RunHooks,
} from './experiment.js';
export { meanAndSd, summarise, type CellSummary, type Spread } from './summary.js';
export {
  COMPARISON_REPORT_VERSION,
  differingSettings,
  parseComparisonReport,
  type ComparisonBudget,
  type ComparisonReport,
  type ComparisonSettings,
} from './report.js';
