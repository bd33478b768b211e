import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './cli-helpers.js';
// @ts-expect-error: a plain ES module shared with the Chromium test (test/browser/model.browser.mjs), no types
import { modelChecks } from './browser/model-checks.mjs';

/*
 * The model API's checks that also run in Chromium (test/browser/model-checks.mjs), here in Node against the
 * compiled package: the same source, so what passes here and there is the same test.
 */
describe('model API checks against dist/ in Node (the same checks run in Chromium: bash .ci/browser)', async () => {
  ensureBuilt();
  const results = (await modelChecks(pathToFileURL(ROOT).href.replace(/\/$/, ''))) as { name: string; ok: boolean; detail: string }[];
  for (const r of results) {
    it(r.name, () => {
      expect(r.ok, r.detail).toBe(true);
    });
  }
});
