#!/usr/bin/env node
/**
 * A tiny static server for the browser demo, with no dependency: `npm run demo`.
 *
 *   /            → demo/index.html
 *   /dist/…      → dist/   (the ESM build, `npx tsc -p tsconfig.build.json`)
 *   /data/…      → data/   (the bundled corpus)
 *   anything else → demo/
 *
 * The page imports `../../dist/index.js` relative to demo/js/, which resolves to /dist/index.js here and
 * to the repository's dist/ under any other static server rooted at the repository, so the same files
 * work both ways.
 *
 * Listens on 127.0.0.1:$PORT (default 8080; PORT=0 picks a free port). Prints one line
 * `mlstm demo: http://127.0.0.1:PORT/` when it is ready (scripts read the port from it).
 */
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

export const MIME_TYPES = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8', // source maps point at .d.ts/.ts; shown as text, never executed
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.safetensors': 'application/octet-stream',
});

/** URL prefix → directory under the repository; the first matching prefix wins, '/' is the fallback. */
const MOUNTS = [
  ['/dist/', 'dist'],
  ['/data/', 'data'],
  ['/', 'demo'],
];

/**
 * Map a request path to a file inside one of the mounted directories, or null when the path is not
 * allowed. Rejects anything that could leave its directory: `..` or `.` segments (also percent-encoded),
 * backslashes, NUL, encoded slashes, and — as a last guard — any resolved path outside the mount.
 */
export function resolveRequestPath(urlPath, root = REPO_ROOT) {
  if (typeof urlPath !== 'string' || !urlPath.startsWith('/')) return null;
  if (/%2f|%5c/i.test(urlPath)) return null; // an encoded separator would hide a segment
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null; // malformed percent-encoding
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return null;
  if (decoded === '/' || decoded === '/index.html') decoded = '/index.html';
  for (const [prefix, dir] of MOUNTS) {
    if (!decoded.startsWith(prefix)) continue;
    const base = resolve(root, dir);
    const rest = decoded.slice(prefix.length);
    if (rest === '' || rest.endsWith('/')) return null; // no directory listings
    const file = resolve(join(base, rest));
    if (!file.startsWith(base + sep)) return null;
    return file;
  }
  return null;
}

/**
 * Cross-origin isolation: with these two headers the page (and its workers) get SharedArrayBuffer,
 * which the demo's parallel GEMM (mlstm/web) needs. Sent on every response, worker scripts included
 * (a worker's own response decides its embedder policy in some browsers). Everything the page loads
 * is same-origin, so COEP require-corp blocks nothing.
 */
export const ISOLATION_HEADERS = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
});

export function contentType(file) {
  return MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...ISOLATION_HEADERS });
  res.end(`${text}\n`);
}

/** Start the server; resolves with { server, port, url } once it listens. */
export function startDemoServer({ port = 8080, host = '127.0.0.1', root = REPO_ROOT, log = () => {} } = {}) {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'method not allowed');
    }
    const path = (req.url ?? '/').split('?')[0].split('#')[0];
    const file = resolveRequestPath(path, root);
    if (!file) return send(res, 404, 'not found');
    let stat;
    try {
      stat = statSync(file);
    } catch {
      return send(res, 404, 'not found');
    }
    if (!stat.isFile()) return send(res, 404, 'not found');
    res.writeHead(200, {
      'content-type': contentType(file),
      'content-length': stat.size,
      // The demo is a development page: always serve the current build.
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...ISOLATION_HEADERS,
    });
    if (req.method === 'HEAD') return res.end();
    log(`${req.method} ${path}`);
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      resolvePromise({ server, port: actual, url: `http://${host}:${actual}/` });
    });
  });
}

async function main() {
  const raw = process.env.PORT ?? '8080';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`serve-demo: PORT must be an integer in 0..65535, got '${raw}'\n`);
    process.exit(2);
  }
  try {
    statSync(join(REPO_ROOT, 'dist', 'index.js'));
  } catch {
    process.stderr.write('serve-demo: dist/index.js is missing; build first with `npx tsc -p tsconfig.build.json` (npm run build)\n');
  }
  const { server, url } = await startDemoServer({ port }).catch((err) => {
    process.stderr.write(`serve-demo: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
    process.exit(1);
  });
  process.stdout.write(`mlstm demo: ${url}\n`);
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // keep-alive sockets of an open tab would hold close() forever
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
