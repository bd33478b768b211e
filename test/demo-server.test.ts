/**
 * The demo's static server (scripts/serve-demo.mjs), run as `npm run demo` runs it: it serves demo/,
 * dist/ and data/ with the right content types, and nothing else — no path, however encoded, leaves
 * those directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

let server: ChildProcess;
let port = 0;

/** A raw GET (node:http sends the path as written: no client-side `..` normalisation). */
function get(path: string, method = 'GET'): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

beforeAll(async () => {
  server = spawn(process.execPath, [join(ROOT, 'scripts', 'serve-demo.mjs')], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  port = await new Promise<number>((done, fail) => {
    let out = '';
    server.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^mlstm demo: http:\/\/127\.0\.0\.1:(\d+)\/$/m.exec(out);
      if (m) done(Number(m[1]));
    });
    server.on('exit', (code) => fail(new Error(`serve-demo exited with ${code}: ${out}`)));
  });
});

afterAll(() => {
  server?.kill('SIGTERM');
});

describe('serve-demo', () => {
  it('serves the page at / and the demo, dist and data files with their content types', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html; charset=utf-8');
    expect(page.body.toString()).toBe(readFileSync(join(ROOT, 'demo', 'index.html'), 'utf8'));
    expect((await get('/js/main.js')).type).toBe('text/javascript; charset=utf-8');
    expect((await get('/style.css')).type).toBe('text/css; charset=utf-8');
    expect((await get('/scripts/../js/worker.js')).status).toBe(404); // dot segments are refused, not resolved
    const readme = await get('/data/README.md');
    expect(readme.status).toBe(200);
    expect(readme.body.toString()).toBe(readFileSync(join(ROOT, 'data', 'README.md'), 'utf8'));
    const corpus = await get('/data/moby-dick.txt', 'HEAD');
    expect(corpus.status).toBe(200);
    expect(corpus.type).toBe('text/plain; charset=utf-8');
  });

  it('refuses every path that would leave the served directories', async () => {
    for (const path of [
      '/../package.json',
      '/..%2fpackage.json',
      '/%2e%2e/package.json',
      '/%2E%2E/%2E%2E/etc/passwd',
      '/dist/../../package.json',
      '/data/..%5c..%5cpackage.json',
      '/data/%2e%2e/package.json',
      '/js/./main.js',
      '/data/moby-dick.txt%00.html',
      '/%',
      '/data/',
      '/js',
      '/package.json',
      '/missing.js',
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.body.toString(), path).toBe('not found\n');
    }
  });

  it('answers only GET and HEAD', async () => {
    expect((await get('/', 'POST')).status).toBe(405);
    expect((await get('/', 'DELETE')).status).toBe(405);
  });
});
