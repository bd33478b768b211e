/**
 * The page: wires the controls to the worker (worker.js owns the model) and draws what it reports.
 * States: idle (no model) → loading → training ⇄ paused; reset returns to idle.
 */
import { LossChart } from './chart.js';
import { Heatmap } from './heatmap.js';
import { equationsHTML } from './equations.js';

const $ = (id) => document.getElementById(id);
const SAMPLE_HISTORY = 12;

const ui = {
  train: $('train'),
  pause: $('pause'),
  resume: $('resume'),
  reset: $('reset'),
  status: $('status'),
  step: $('step'),
  loss: $('loss'),
  bpc: $('bpc'),
  valid: $('valid'),
  speed: $('speed'),
  params: $('params'),
  kernels: $('kernels'),
  threads: $('threads'),
  threadsNote: $('threads-note'),
  modelInfo: $('model-info'),
  config: $('config'),
  paste: $('paste'),
  sample: $('sample'),
  sampleStep: $('sample-step'),
  sampleHistory: $('sample-history'),
  sampleEvery: $('sample-every'),
  temperature: $('temperature'),
  temperatureValue: $('temperature-value'),
  sampleNow: $('sample-now'),
  inspectText: $('inspect-text'),
  inspect: $('inspect'),
  useSample: $('use-sample'),
  layer: $('layer'),
  layerLabel: $('layer-label'),
  unit: $('unit'),
  follow: $('follow'),
  heatmap: $('heatmap'),
  inspectCheck: $('inspect-check'),
  equations: $('equations'),
  download: $('download'),
  load: $('load'),
  checkpointStatus: $('checkpoint-status'),
};

const chart = new LossChart($('chart'));
const page = { state: 'idle', info: null, inspection: null, inspectId: 0, unitChosenByUser: false, latestSample: '' };
const heatmap = new Heatmap(ui.heatmap, (t) => showEquations(t));

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (msg, transfer) => worker.postMessage(msg, transfer ?? []);

function readConfig() {
  // From the controls themselves: FormData would skip them while their fieldset is disabled.
  return Object.fromEntries(['hidden', 'embed', 'seq', 'batch', 'lr', 'seed'].map((k) => [k, Number(ui.config.elements[k].value)]));
}

const readThreads = () => Number(ui.config.elements.threads.value);
const readKernels = () => ui.config.elements.kernels.value;
/** ?gemm-drill=KIND:JOBS makes a gemm worker fail on purpose (the browser test's fault drill). */
const drill = new URL(location.href).searchParams.get('gemm-drill') ?? undefined;

/** The threads control: 2 by default where the page can share memory with workers and has the cores. */
function initThreads() {
  const select = ui.config.elements.threads;
  const canShare = globalThis.crossOriginIsolated === true;
  select.value = canShare && (navigator.hardwareConcurrency ?? 1) >= 2 ? '2' : '1';
  if (!canShare) select.closest('label').title += ' — this page is not cross-origin isolated, so it trains on 1 thread';
}

function showThreads({ threads, requested, kernels, reason }) {
  ui.kernels.textContent = kernels;
  ui.threads.textContent = String(threads);
  ui.threadsNote.textContent =
    threads > 1
      ? `The matrix products are split across ${threads} threads (this worker and ${threads - 1} more, sharing memory); the numbers are bit-identical to 1 thread.`
      : reason !== undefined
        ? `Training on 1 thread with the ${kernels} kernels: ${reason}.`
        : requested > 1
          ? `Training on 1 thread with the ${kernels} kernels: the GEMM workers are unavailable.`
          : `Training on 1 thread with the ${kernels} kernels.`;
}

function setStatus(text, kind = 'info') {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

function setState(state, message) {
  page.state = state;
  const hasModel = state === 'training' || state === 'paused';
  ui.train.disabled = state !== 'idle';
  ui.pause.disabled = state !== 'training';
  ui.resume.disabled = state !== 'paused';
  ui.reset.disabled = state === 'idle';
  ui.download.disabled = !hasModel;
  ui.sampleNow.disabled = !hasModel;
  ui.inspect.disabled = !hasModel;
  const [textFields, modelFields] = ui.config.querySelectorAll('fieldset');
  modelFields.disabled = state !== 'idle';
  // A loaded checkpoint keeps its sizes, but the text it will train on can still be chosen.
  textFields.disabled = !(state === 'idle' || (state === 'paused' && page.info && !page.info.trainChars));
  const defaults = { idle: 'Ready. Press Train.', loading: 'Loading…', training: 'Training…', paused: 'Paused.' };
  setStatus(message ?? defaults[state], message && /diverged|cannot|error|stopped/i.test(message) ? 'error' : 'info');
  ui.status.dataset.state = state;
}

function showInfo(info) {
  page.info = info;
  ui.params.textContent = info.parameters.toLocaleString('en');
  const text = info.trainChars
    ? `trains on ${info.sourceName} (${info.trainChars.toLocaleString('en')} characters${info.validChars ? `, ${info.validChars.toLocaleString('en')} held out` : ''})`
    : `from ${info.sourceName}`;
  ui.modelInfo.textContent =
    `${info.cell}${info.weightNorm ? ' (weight-normalised)' : ''}, ${info.layers} layer${info.layers > 1 ? 's' : ''} of H = ${info.hidden}, ` +
    `E = ${info.embed}, vocabulary ${info.vocab} ${info.vocabKind === 'bytes' ? 'bytes' : 'characters'}; ${text}.`;
  if (Number.isFinite(info.unigramBpc)) chart.setUnigram(info.unigramBpc);
  ui.layer.replaceChildren(...Array.from({ length: info.layers }, (_, l) => new Option(String(l), String(l))));
  ui.layerLabel.hidden = info.layers < 2;
}

function showSample(step, text) {
  page.latestSample = text;
  ui.sample.textContent = text;
  ui.sampleStep.textContent = `(after ${step} steps)`;
  ui.useSample.disabled = false;
  const item = document.createElement('li');
  item.value = step;
  const head = document.createElement('b');
  head.textContent = `step ${step}: `;
  item.append(head, text.slice(0, 160));
  ui.sampleHistory.prepend(item);
  while (ui.sampleHistory.children.length > SAMPLE_HISTORY) ui.sampleHistory.lastChild.remove();
  if (ui.follow.checked && (page.state === 'training' || page.inspection === null)) requestInspect();
}

function requestInspect() {
  const text = ui.inspectText.value;
  page.inspectId++;
  send({ type: 'inspect', id: page.inspectId, text, layer: Number(ui.layer.value || 0) });
}

function fillUnits(result) {
  const previous = Number(ui.unit.value);
  ui.unit.replaceChildren(
    ...result.unitOrder.map(({ unit, variance }) => new Option(`${unit}  (spread ${Math.sqrt(variance).toFixed(2)})`, String(unit))),
  );
  // Keep the user's unit; otherwise start with the busiest unit on this text.
  ui.unit.value = String(page.unitChosenByUser && previous < result.H ? previous : result.unitOrder[0].unit);
}

function showInspection(result) {
  page.inspection = result;
  fillUnits(result);
  heatmap.render(result, Number(ui.unit.value));
  const parts = Object.entries(result.check).map(([k, v]) => `|Δ${k}| ≤ ${v.toExponential(1)}`);
  ui.inspectCheck.textContent =
    `${result.T} characters${result.truncated ? ' (cut to the first 400)' : ''}. Values recomputed from the equations with the cell's weights; ` +
    `against the engine's fused kernel: ${parts.join(', ')}. Units are listed busiest first.`;
  ui.inspectCheck.dataset.maxDiff = String(Math.max(...Object.values(result.check)));
}

function showEquations(t) {
  const r = page.inspection;
  if (!r || t < 0) return;
  ui.equations.innerHTML = equationsHTML(r, Number(ui.unit.value), t, heatmap.ranges);
}

function downloadBytes(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Reports of a model that a reset discarded can still be queued; they must not refill the page. */
const STALE_WHEN_IDLE = new Set(['progress', 'valid', 'sample', 'inspect', 'checkpoint']);

worker.onmessage = ({ data: msg }) => {
  if (page.state === 'idle' && STALE_WHEN_IDLE.has(msg.type)) return;
  switch (msg.type) {
    case 'state':
      setState(msg.state, msg.message);
      break;
    case 'info':
      showInfo(msg.info);
      break;
    case 'threads':
      showThreads(msg);
      break;
    case 'progress': {
      chart.add(msg.points);
      const [step, loss] = msg.points[msg.points.length - 1];
      ui.step.textContent = String(step);
      ui.loss.textContent = loss.toFixed(4);
      ui.bpc.textContent = chart.smoothed.toFixed(3);
      ui.speed.textContent = Math.round(msg.charsPerSec).toLocaleString('en');
      break;
    }
    case 'valid':
      chart.addValidation(msg.step, msg.bpc);
      ui.valid.textContent = msg.bpc.toFixed(3);
      break;
    case 'sample':
      showSample(msg.step, msg.text);
      break;
    case 'inspect':
      if (msg.id === page.inspectId) showInspection(msg.result);
      break;
    case 'inspect-error':
      if (msg.id === page.inspectId) ui.inspectCheck.textContent = msg.message;
      break;
    case 'checkpoint':
      downloadBytes(msg.bytes, msg.name);
      ui.checkpointStatus.dataset.kind = 'info';
      ui.checkpointStatus.textContent = `Saved ${msg.name} (${(msg.bytes.byteLength / 1024).toFixed(0)} KiB).`;
      break;
    case 'loaded':
      chart.reset();
      showInfo(msg.info);
      ui.step.textContent = String(msg.info.step);
      ui.loss.textContent = ui.bpc.textContent = ui.valid.textContent = '—';
      ui.checkpointStatus.dataset.kind = 'info';
      ui.checkpointStatus.textContent = `Loaded ${msg.name}: ${msg.info.cell}, H = ${msg.info.hidden}, ${msg.info.vocab} symbols, step ${msg.info.step}. Resume trains it on the selected text.`;
      page.inspection = null;
      requestInspect();
      break;
    case 'load-error':
      ui.checkpointStatus.dataset.kind = 'error';
      ui.checkpointStatus.textContent = `Could not load that file: ${msg.message}`;
      break;
    case 'error':
      setStatus(msg.message, 'error');
      break;
    default:
      setStatus(`unexpected message from the worker: ${msg.type}`, 'error');
  }
};
worker.onerror = (e) => setStatus(`the training worker failed: ${e.message || 'could not start (is dist/ built?)'}`, 'error');

ui.train.addEventListener('click', () => {
  const source = ui.config.elements.source.value;
  const text = source === 'paste' ? ui.paste.value : null;
  if (source === 'paste' && text.length < 200)
    return setStatus('Paste at least a few hundred characters of text (more is better), or choose Moby-Dick.', 'error');
  chart.reset();
  ui.sampleHistory.replaceChildren();
  send({ type: 'settings', sampleEvery: Number(ui.sampleEvery.value) || 25, temperature: Number(ui.temperature.value) });
  send({ type: 'train', config: readConfig(), text, kernels: readKernels(), threads: readThreads(), drill });
});
ui.pause.addEventListener('click', () => send({ type: 'pause' }));
ui.resume.addEventListener('click', () => {
  // A loaded checkpoint has no training text yet: 'train' attaches the selected one, then resumes.
  if (page.info && !page.info.trainChars) {
    const source = ui.config.elements.source.value;
    send({
      type: 'train',
      config: readConfig(),
      text: source === 'paste' ? ui.paste.value : null,
      kernels: readKernels(),
      threads: readThreads(),
    });
  } else send({ type: 'resume' });
});
ui.reset.addEventListener('click', () => {
  send({ type: 'reset' });
  setState('idle');
  chart.reset();
  page.info = null;
  page.inspection = null;
  for (const el of [ui.step, ui.loss, ui.bpc, ui.valid, ui.speed, ui.params, ui.kernels, ui.threads]) el.textContent = '—';
  ui.threadsNote.textContent = '';
  ui.modelInfo.textContent = '';
  ui.sample.textContent = '';
  ui.sampleStep.textContent = '';
  ui.sampleHistory.replaceChildren();
  ui.unit.replaceChildren();
  ui.inspectCheck.textContent = '';
  ui.useSample.disabled = true;
  ui.heatmap.replaceChildren();
});
ui.sampleEvery.addEventListener('change', () =>
  send({ type: 'settings', sampleEvery: Math.max(1, Math.round(Number(ui.sampleEvery.value) || 25)) }),
);
ui.temperature.addEventListener('input', () => {
  ui.temperatureValue.textContent = Number(ui.temperature.value).toFixed(2);
  send({ type: 'settings', temperature: Number(ui.temperature.value) });
});
ui.sampleNow.addEventListener('click', () => send({ type: 'sample' }));
ui.inspect.addEventListener('click', requestInspect);
ui.useSample.addEventListener('click', () => {
  ui.inspectText.value = page.latestSample;
  requestInspect();
});
ui.layer.addEventListener('change', requestInspect);
ui.unit.addEventListener('change', () => {
  page.unitChosenByUser = true;
  if (page.inspection) heatmap.render(page.inspection, Number(ui.unit.value));
});
ui.download.addEventListener('click', () => send({ type: 'download' }));
ui.load.addEventListener('change', async () => {
  const file = ui.load.files[0];
  if (!file) return;
  ui.checkpointStatus.dataset.kind = 'info';
  ui.checkpointStatus.textContent = `Reading ${file.name}…`;
  const bytes = await file.arrayBuffer();
  ui.load.value = '';
  send({ type: 'load', bytes, name: file.name, config: readConfig() }, [bytes]);
});
ui.paste.addEventListener('focus', () => (ui.config.elements.source.value = 'paste'));

initThreads();
setState('idle');
