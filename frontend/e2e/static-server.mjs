// A tiny static server for the built page, on 127.0.0.1 only: files from `dir`, and
// index.html for any other path so the client-side routes (/gallery/:id) load.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { createGzip } from 'node:zlib';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

async function isFile(path) {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Serves `dir`; resolves to { url, close } once listening (port 0 picks a free one). */
export async function serveStatic(dir, port = 0) {
  const root = normalize(dir + sep);
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path));
    const inside = file.startsWith(root);
    const target = inside && (await isFile(file)) ? file : join(root, 'index.html');
    const hashed = target.includes(`${sep}assets${sep}`);
    const type = TYPES[extname(target)] ?? 'application/octet-stream';
    const gzip = /gzip/.test(request.headers['accept-encoding'] ?? '') && /text|svg|json/.test(type);
    response.writeHead(200, {
      'Content-Type': type,
      'Cache-Control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...(gzip ? { 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' } : {}),
    });
    const body = createReadStream(target);
    (gzip ? body.pipe(createGzip()) : body).pipe(response);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = server.address();
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
