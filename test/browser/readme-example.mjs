/**
 * The README's tested examples: a fenced code block right after a line `<!-- example: NAME -->` is example
 * NAME, run as written by test/readme-examples.test.ts (Node) and test/browser/model.browser.mjs (a worker
 * in Chromium). Returns the block's text, or throws if the README has no such example.
 */
export function readmeExample(readme, name) {
  const marker = `<!-- example: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const block = /^```[a-z]*\n([\s\S]*?)^```$/m.exec(readme.slice(at + marker.length));
  if (!block) throw new Error(`README.md: no code block after ${marker}`);
  return block[1];
}
