/**
 * The model API's checks as one self-contained async function, run unchanged in Node against dist/
 * (test/model-checks.test.ts) and in Chromium, on a page and in a worker (test/browser/model.browser.mjs,
 * which injects its source): `modelChecks(origin)` imports `${origin}/dist/index.js` and returns one
 * { name, ok, detail } per check. Self-contained on purpose (no imports, no outer variables), so its
 * source text is the whole test. The same properties are tested against src/ in test/model-api.test.ts.
 */
export async function modelChecks(origin) {
  const lib = await import(`${origin}/dist/index.js`);
  const { CharLM, Rng, Tape, TextCodec, TextModel, ModelStepper, LogitSampler, trainingVocabulary, buildCharVocabulary } = lib;
  const results = [];
  const check = async (name, fn) => {
    try {
      results.push({ name, ok: true, detail: (await fn()) ?? '' });
    } catch (e) {
      results.push({ name, ok: false, detail: e instanceof Error ? e.stack || e.message : String(e) });
    }
  };
  const assert = (cond, message) => {
    if (!cond) throw new Error(message);
  };
  const sameBits = (a, b) => a.length === b.length && Array.prototype.every.call(a, (v, i) => Object.is(v, b[i]));
  const TEXT = 'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.\n';
  const vocab = trainingVocabulary(TEXT);
  const codec = new TextCodec(vocab);
  const V = codec.size;
  const NEWLINE = codec.encode('\n')[0];
  const make = (config, seed) =>
    new CharLM({ cell: 'mlstm', weightNorm: false, vocab: V, embed: 6, hidden: 9, layers: 1, ...config }, { rng: new Rng(seed) });
  const forwardAll = (model, tokens, backend) => {
    // By default on the kernels the model API defaults to (selectBackend: wasm where SIMD validates).
    const tape = new Tape({ backend: backend ?? lib.selectBackend().backend });
    return tape.noGrad(() => {
      const f = model.forward(tape, tokens, tokens.length, 1, model.zeroState(1));
      return { logits: f.logits.value.data, h: f.state.map((s) => s.h.value.data) };
    });
  };

  await check(
    'one token at a time equals CharLM.forward over the whole text, bit for bit (mlstm ×2 layers, weight norm, lstm, mrnn)',
    () => {
      for (const config of [{ layers: 2 }, { weightNorm: true }, { cell: 'lstm' }, { cell: 'mrnn' }]) {
        const model = make(config, 7);
        const tokens = codec.encode(TEXT.slice(0, 50));
        const ref = forwardAll(model, tokens);
        const stepper = new ModelStepper(model);
        for (let t = 0; t < tokens.length; t++)
          assert(
            sameBits(stepper.step(tokens[t]), ref.logits.subarray(t * V, (t + 1) * V)),
            `${JSON.stringify(config)}: step ${t} differs`,
          );
      }
    },
  );

  const model = make({ hidden: 12, embed: 5 }, 3);
  await check('score: each surprise is −log₂ softmax of forward’s logits, to the last bit', () => {
    const api = new TextModel(model, vocab);
    const text = TEXT.slice(0, 70);
    const r = api.score(text);
    const tokens = codec.encode(text);
    const ref = forwardAll(model, Int32Array.from([NEWLINE, ...tokens]));
    for (let i = 0; i < tokens.length; i++) {
      const row = ref.logits.subarray(i * V, (i + 1) * V);
      let max = -Infinity;
      for (let j = 0; j < V; j++) if (row[j] > max) max = row[j];
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(row[j] - max);
      assert(Object.is(r.bits[i], (max + Math.log(sum) - row[tokens[i]]) / Math.LN2), `character ${i} differs`);
    }
    return `bpc ${r.bpc.toFixed(4)}`;
  });

  await check('feed("hello") reads exactly "hello" (ml5#778 read "hhell"), in one piece or in several', () => {
    const api = new TextModel(model, vocab);
    assert(api.feed('hello').characters === 5, 'feed did not read 5 characters');
    const ref = forwardAll(model, Int32Array.from([NEWLINE, ...codec.encode('hello')]));
    assert(sameBits(api.state.layers[0].h, ref.h[0]), 'the state is not forward’s after "\\nhello"');
    assert(sameBits(api.state.logits, ref.logits.subarray(5 * V)), 'the next-character logits are not forward’s');
    const wrong = forwardAll(model, Int32Array.from([NEWLINE, ...codec.encode('hhell')]));
    assert(!sameBits(api.state.layers[0].h, wrong.h[0]), 'the state equals the one after "hhell"');
    const split = new TextModel(model, vocab);
    split.feed('he');
    split.feed('llo');
    assert(sameBits(split.state.layers[0].h, api.state.layers[0].h), 'feed("he") + feed("llo") ≠ feed("hello")');
  });

  await check(
    'generate: each character is drawn from forward’s distribution at that point (replayed), the same seed gives the same text',
    () => {
      const api = new TextModel(model, vocab);
      const options = { seed: 5, temperature: 0.8, topK: 6, topP: 0.9 };
      const text = api.generateText({ ...options, prime: 'Call', length: 60 });
      const tokens = Int32Array.from([NEWLINE, ...codec.encode(`Call${text}`)]);
      const ref = forwardAll(model, tokens);
      const sampler = new LogitSampler(V, options);
      const rng = new Rng(options.seed);
      for (let i = 0; i < 60; i++) assert(sampler.draw(ref.logits, (4 + i) * V, rng) === tokens[5 + i], `character ${i} was not replayed`);
      api.reset();
      assert(api.generateText({ ...options, prime: 'Call', length: 60 }) === text, 'the same seed gave another text');
    },
  );

  await check('state: saved, changed, restored; stop texts; generateAsync equals generateText', async () => {
    const api = new TextModel(model, vocab);
    api.feed('Some years ago');
    const saved = api.state;
    const next = api.generateText({ seed: 3, length: 40 });
    api.feed('something else');
    api.state = saved;
    assert(api.generateText({ seed: 3, length: 40 }) === next, 'restoring the state did not restore the generation');
    api.state = saved;
    const stopped = api.generateText({ seed: 3, length: 40, stop: next.slice(10, 12) });
    assert(stopped === next.slice(0, next.indexOf(next.slice(10, 12))), `stop: got ${JSON.stringify(stopped)}`);
    api.state = saved;
    let streamed = '';
    for await (const chunk of api.generateAsync({ seed: 3, length: 40, sliceMs: 0 })) streamed += chunk;
    assert(streamed === next, 'generateAsync differs from generateText');
  });

  await check(
    'any text in: unknown characters are read as U+FFFD and counted; a model without U+FFFD refuses, naming the character',
    () => {
      const api = new TextModel(model, vocab);
      const r = api.score('Ahab & the whale 🐋');
      assert(r.unknown === 4 && r.unknownCharacters.join('') === 'Ab&🐋', `unknown ${r.unknown} ${JSON.stringify(r.unknownCharacters)}`);
      const old = buildCharVocabulary(TEXT);
      const oldApi = new TextModel(make({ vocab: old.symbols.length }, 1), old);
      let message = '';
      try {
        oldApi.feed('Call &');
      } catch (e) {
        message = e.message;
      }
      assert(/character '&' \(U\+0026\) at offset 5/.test(message), `got ${JSON.stringify(message)}`);
    },
  );

  await check(
    'on the wasm backend (WebAssembly SIMD): one token at a time equals CharLM.forward on it, bit for bit; score and generate are forward’s',
    async () => {
      const { createWasmBackend } = await import(`${origin}/dist/wasm/index.js`);
      const backend = await createWasmBackend();
      for (const config of [{ layers: 2 }, { cell: 'lstm' }, { cell: 'mrnn' }, { hidden: 30 }]) {
        const m = make(config, 7);
        const tokens = codec.encode(TEXT.slice(0, 50));
        const ref = forwardAll(m, tokens, backend);
        const stepper = new ModelStepper(m, { backend });
        for (let t = 0; t < tokens.length; t++)
          assert(
            sameBits(stepper.step(tokens[t]), ref.logits.subarray(t * V, (t + 1) * V)),
            `${JSON.stringify(config)}: step ${t} differs`,
          );
        stepper.dispose();
      }
      const api = new TextModel(model, vocab, { backend });
      const text = api.generateText({ seed: 5, prime: 'Call', length: 40 });
      const tokens = Int32Array.from([NEWLINE, ...codec.encode(`Call${text}`)]);
      const ref = forwardAll(model, tokens, backend);
      const sampler = new LogitSampler(V, {});
      const rng = new Rng(5);
      for (let i = 0; i < 40; i++) assert(sampler.draw(ref.logits, (4 + i) * V, rng) === tokens[5 + i], `character ${i} was not replayed`);
      api.reset();
      const r = api.score(TEXT.slice(0, 30));
      api.dispose();
      return `${backend.describe()}, ${backend.heap.shared ? 'shared' : 'unshared'} memory; bpc ${r.bpc.toFixed(4)}`;
    },
  );

  await check('the shipped model loads (defaultModel) and generates and scores', async () => {
    const api = await lib.loadDefaultModel();
    const text = api.generateText({ prime: 'Call me ', length: 300, seed: 1 });
    assert([...text].length === 300, `generated ${[...text].length} characters`);
    api.reset();
    const r = api.score('Call me Ishmael. Some years ago—never mind how long precisely—');
    assert(r.bpc > 0 && r.bpc < 8, `bpc ${r.bpc}`);
    return `${api.config.cell} ${api.config.layers}×${api.config.hidden}, bpc ${r.bpc.toFixed(3)} on the opening line`;
  });

  return results;
}
