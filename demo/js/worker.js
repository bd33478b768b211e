/**
 * The demo's module worker: owns the model, trains it in chunks of a few dozen milliseconds and answers
 * the page's requests (sample, look inside, checkpoint) between chunks, so the page never freezes.
 *
 * Messages in (from main.js):
 *   {type:'train', config, text|null, kernels, threads, drill?}   start (text null = the bundled corpus), or
 *                                       resume a loaded model; kernels: 'wasm' (WebAssembly SIMD; the JS
 *                                       kernels where it does not validate) or 'js';
 *                                       threads: 1 or 2 (gemm threads of the kernels, for a new trainer);
 *                                       drill: a fault drill for the gemm workers, 'KIND:JOBS' (the page's
 *                                       ?gemm-drill= parameter, for the browser test: KIND throw, terminate)
 *   {type:'pause'} {type:'resume'} {type:'reset'}
 *   {type:'settings', sampleEvery, temperature, validEvery}
 *   {type:'sample'}                      sample now
 *   {type:'inspect', id, text, layer}
 *   {type:'download'}
 *   {type:'load', bytes, name}
 * Messages out:
 *   {type:'state', state:'idle'|'loading'|'training'|'paused', message?}
 *   {type:'info', info}                  model/vocabulary/text summary (DemoSession.info())
 *   {type:'threads', threads, requested, kernels, reason?}   the threads training runs on (reason: why fewer),
 *                                       kernels: the backend's describe() ('wasm-simd fma', 'wasm-simd', 'js')
 *   {type:'progress', points:[[step, loss, bpc], …], charsPerSec}
 *   {type:'valid', step, bpc}   {type:'sample', step, text}
 *   {type:'inspect', id, result} | {type:'inspect-error', id, message}
 *   {type:'checkpoint', bytes, name}   {type:'loaded', info, name}   {type:'load-error', message}
 *   {type:'error', message}
 */
import { wasmUnavailable } from '../../dist/index.js';
import { createWebParallelBackend } from '../../dist/web/index.js';
import { DemoSession } from './session.js';

const CORPUS_URL = new URL('../../data/moby-dick.txt', import.meta.url);
const CORPUS_NAME = 'moby-dick.txt';
/** Time spent training before looking at the message queue again. */
const CHUNK_MS = 60;
const MAX_BAD_STEPS = 5;

let session = null;
let running = false;
let loopActive = false;
let corpus = null;
/** The backend of the current trainer, and the kernels and thread count it was asked for. */
let gemm = null;
const settings = { sampleEvery: 25, temperature: 0.8, validEvery: 100, sampleLength: 240 };

const post = (msg, transfer = []) => self.postMessage(msg, transfer);
const setState = (state, message) => post({ type: 'state', state, ...(message !== undefined && { message }) });
const describe = (err) => (err instanceof Error ? err.message : String(err));
const isWorkerFault = (err) => err instanceof Error && err.name === 'GemmWorkerFault';

/**
 * A gemm worker failed mid-step: the trainer rewound that step, so the model is as after the last
 * completed one. Close the broken backend, carry on with this session on one thread, and say so.
 */
async function recoverFromWorkerFault(err) {
  const requested = gemm?.requested ?? 2;
  const kernel = gemm?.kernel ?? 'js';
  gemm?.backend.close();
  gemm = null; // a new training asks for its threads afresh
  const single = await createWebParallelBackend({ threads: 1, kernel }); // the same kernels, on this thread
  session.useBackend(single);
  post({
    type: 'threads',
    threads: 1,
    requested,
    kernels: single.describe(),
    reason: `a GEMM worker failed (${err.reason ?? describe(err)})`,
  });
  setState(
    'paused',
    `A GEMM worker stopped (${err.reason ?? describe(err)}). Training paused at step ${session.step}; the model is kept — Resume continues on 1 thread.`,
  );
}

async function loadCorpus() {
  if (corpus !== null) return corpus;
  const res = await fetch(CORPUS_URL);
  if (!res.ok) throw new Error(`could not fetch the bundled corpus ${CORPUS_URL.pathname}: HTTP ${res.status}`);
  corpus = await res.text();
  return corpus;
}

/**
 * The backend for `kernels` and `threads`, kept across trainings while they stay the same. 'wasm':
 * the WebAssembly SIMD kernels (products and gates) on `threads` threads over one shared memory
 * (createWebParallelBackend with kernel 'wasm'); where SIMD does not validate (wasmUnavailable
 * says why), the JS kernels, with the reason shown on the page. 'js': the JS kernels on `threads`
 * threads. This worker may block in Atomics.wait (a page's main thread may not), so the parallel
 * GEMM runs here, its workers nested in this one. Falls back to one thread, with the reason shown
 * on the page, when the page is not cross-origin isolated or the workers cannot start.
 */
async function backendFor(kernels, threads) {
  if (gemm === null || gemm.requested !== threads || gemm.kernels !== kernels) {
    gemm?.backend.close();
    gemm = null;
    let kernel = 'js';
    let reason;
    if (kernels === 'wasm') {
      const why = wasmUnavailable(); // why WebAssembly SIMD cannot run here, if it cannot (nothing is compiled)
      if (why === undefined) kernel = 'wasm';
      else reason = `${why}: the JS kernels run`;
    }
    let backend;
    try {
      backend = await createWebParallelBackend({ threads, kernel });
    } catch (err) {
      backend = await createWebParallelBackend({ threads: 1, kernel });
      reason = `the gemm workers could not start: ${describe(err)}`;
    }
    reason ??= backend.reason;
    gemm = { requested: threads, kernels, kernel, backend, threads: backend.threads ?? 1, reason };
  }
  const { backend, reason } = gemm;
  post({
    type: 'threads',
    threads: gemm.threads,
    requested: threads,
    kernels: backend.describe(),
    ...(reason !== undefined && (threads > 1 || kernels === 'wasm') && { reason }),
  });
  return backend;
}

function postSample() {
  const step = session.step;
  const text = session.sample({ length: settings.sampleLength, temperature: settings.temperature, seed: step });
  post({ type: 'sample', step, text });
}

function postValidation() {
  const bpc = session.validate();
  if (bpc !== null) post({ type: 'valid', step: session.step, bpc });
}

/** Train until paused: chunks of CHUNK_MS, each followed by a progress message and a turn of the event loop. */
async function trainLoop() {
  if (loopActive) return;
  loopActive = true;
  try {
    while (running) {
      const started = performance.now();
      const points = [];
      let sampleDue = false;
      let validDue = false;
      let chars = 0;
      const report = () => post({ type: 'progress', points, charsPerSec: chars / ((performance.now() - started) / 1000) });
      try {
        while (running && performance.now() - started < CHUNK_MS) {
          const r = session.trainStep();
          points.push([r.step, r.loss, r.bpc]);
          chars += session.config.seq * session.config.batch;
          if (r.step % settings.sampleEvery === 0 || r.step === 1) sampleDue = true;
          if (settings.validEvery > 0 && r.step % settings.validEvery === 0) validDue = true;
          if (session.trainer.consecutiveBadSteps >= MAX_BAD_STEPS) {
            running = false;
            setState(
              'paused',
              `training diverged: ${MAX_BAD_STEPS} non-finite steps in a row at step ${r.step}; reset and try a lower learning rate`,
            );
          }
        }
      } catch (err) {
        if (points.length > 0) report(); // the steps this chunk completed before the failure
        throw err;
      }
      report();
      if (sampleDue) postSample();
      if (validDue) postValidation();
      // Let queued messages (pause, inspect, download, …) run before the next chunk.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } catch (err) {
    running = false;
    if (isWorkerFault(err) && session) await recoverFromWorkerFault(err);
    else setState('paused', `training stopped: ${describe(err)}`);
  } finally {
    loopActive = false;
  }
}

function startTraining() {
  running = true;
  setState('training');
  void trainLoop();
}

const handlers = {
  async train({ config, text, kernels = 'wasm', threads = 1, drill }) {
    if (session && session.hasTrainer) return startTraining();
    setState('loading', text === null ? `fetching ${CORPUS_NAME}…` : 'reading your text…');
    const source = text === null ? await loadCorpus() : text;
    const name = text === null ? CORPUS_NAME : 'pasted text';
    const backend = await backendFor(kernels === 'js' ? 'js' : 'wasm', threads === 2 ? 2 : 1);
    if (drill && backend.drill) {
      const [kind, jobs] = String(drill).split(':');
      backend.drill({ kind, afterJobs: Number(jobs) || 1 });
    }
    if (session) {
      // A loaded checkpoint: keep its weights and vocabulary, train on the chosen text.
      try {
        session.useBackend(backend);
        session.attachText(source, name);
      } catch (err) {
        setState('paused', `cannot train this checkpoint on ${name}: ${describe(err)}`);
        return;
      }
    } else {
      session = DemoSession.fromText(source, config, name, backend);
    }
    post({ type: 'info', info: session.info() });
    try {
      postValidation();
    } catch (err) {
      if (!isWorkerFault(err)) throw err;
      return recoverFromWorkerFault(err);
    }
    startTraining();
  },
  pause() {
    running = false;
    if (session) setState('paused');
  },
  resume() {
    if (session && session.hasTrainer) startTraining();
  },
  reset() {
    running = false;
    session = null;
    setState('idle');
  },
  settings(s) {
    for (const k of ['sampleEvery', 'temperature', 'validEvery']) if (s[k] !== undefined) settings[k] = s[k];
  },
  sample() {
    if (session) postSample();
  },
  inspect({ id, text, layer }) {
    if (!session) return post({ type: 'inspect-error', id, message: 'no model yet: start training or load a checkpoint' });
    try {
      const result = session.inspect(text, layer);
      const transfer = Object.values(result.series).map((a) => a.buffer);
      post({ type: 'inspect', id, result }, [...transfer, result.surprisal.buffer]);
    } catch (err) {
      post({ type: 'inspect-error', id, message: describe(err) });
    }
  },
  download() {
    if (!session) return post({ type: 'error', message: 'nothing to download yet: train or load a model first' });
    const bytes = session.checkpoint();
    post({ type: 'checkpoint', bytes, name: `mlstm-demo-step${session.step}.safetensors` }, [bytes.buffer]);
  },
  load({ bytes, name, config }) {
    let loaded;
    try {
      loaded = DemoSession.fromCheckpoint(new Uint8Array(bytes), name, config);
    } catch (err) {
      // The current model (if any) is kept: a bad file changes nothing.
      return post({ type: 'load-error', message: describe(err) });
    }
    running = false;
    session = loaded;
    post({ type: 'loaded', info: session.info(), name });
    setState('paused', `loaded ${name}`);
    postSample();
  },
};

self.onmessage = async (event) => {
  const msg = event.data;
  const handler = handlers[msg && msg.type];
  if (!handler) return post({ type: 'error', message: `worker: unknown message ${JSON.stringify(msg && msg.type)}` });
  try {
    await handler(msg);
  } catch (err) {
    running = false;
    // The state change carries the message, so the page shows the error rather than a plain 'Paused.'.
    setState(session ? 'paused' : 'idle', `error: ${describe(err)}`);
  }
};
