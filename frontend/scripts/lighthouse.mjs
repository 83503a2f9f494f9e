// Reproduces the Lighthouse scores in frontend/README.md: builds the page, serves it on
// 127.0.0.1 (gzip, long-cached hashed assets, as CloudFront would), runs Lighthouse
// (from npm, pinned) in Debian's Chromium, prints the four category scores and every
// audit that lost points, and fails when a score is under 95.
//
//   npm run lighthouse                 (the generate page, /)
//   npm run lighthouse -- /gallery     (other paths; they call the API at LIGHTHOUSE_API)
//
// LIGHTHOUSE_API (default http://127.0.0.1:3001, `pixelctl local`'s address) is the API
// the build talks to; the generate page calls nothing until the user acts.

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildPage, FRONTEND } from '../e2e/build-page.mjs';
import { CHROMIUM, CHROMIUM_ARGS, requireChromium } from '../e2e/chromium.mjs';
import { serveStatic } from '../e2e/static-server.mjs';

const LIGHTHOUSE = 'lighthouse@12.8.2';
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];
const TARGET = 95;

function run(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args[0]} exited with ${code}`))));
  });
}

requireChromium();
const paths = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['/'];
const work = await mkdtemp(join(tmpdir(), 'pixel-prompt-lighthouse-'));
const reports = join(FRONTEND, 'e2e', 'artifacts');
await mkdir(reports, { recursive: true });
const dist = join(work, 'dist');
await buildPage({ api: process.env.LIGHTHOUSE_API ?? 'http://127.0.0.1:3001', environment: 'prod', outDir: dist });
const server = await serveStatic(dist);

let worst = 100;
try {
  for (const path of paths) {
    const report = join(reports, `lighthouse${path.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '') || '-root'}.json`);
    await run(
      'npx',
      [
        '--yes',
        LIGHTHOUSE,
        `${server.url}${path}`,
        `--chrome-flags=${CHROMIUM_ARGS.join(' ')}`,
        `--only-categories=${CATEGORIES.join(',')}`,
        '--output=json',
        `--output-path=${report}`,
        '--quiet',
      ],
      { CHROME_PATH: CHROMIUM },
    );
    const result = JSON.parse(await readFile(report, 'utf8'));
    console.log(`\n${path}  (${result.lighthouseVersion}, ${result.configSettings.formFactor}, report ${report})`);
    for (const id of CATEGORIES) {
      const category = result.categories[id];
      const score = Math.round(category.score * 100);
      worst = Math.min(worst, score);
      console.log(`  ${category.title.padEnd(16)} ${score}`);
      for (const ref of category.auditRefs) {
        const audit = result.audits[ref.id];
        if (ref.weight > 0 && audit.score !== null && audit.score < 1) {
          console.log(`    - ${audit.title}${audit.displayValue ? ` (${audit.displayValue})` : ''}`);
        }
      }
    }
  }
} finally {
  await server.close();
  await rm(work, { recursive: true, force: true });
}
if (worst < TARGET) {
  console.error(`\na score is under ${TARGET}`);
  process.exitCode = 1;
}
