// The web app in a real browser (Debian's Chromium, headless, through playwright-core)
// against a real API: generate and see every image load, page through the gallery, a
// 429 with its retry time, a failed model beside working ones.
//
// By default it starts everything itself on 127.0.0.1: `pixelctl local --fake-providers`
// with a small environment of its own (4 models, 4 generations per IP and day, CORS for
// the page's origin), the page built against that API, and a static server for it.
// E2E_API (the API's base URL) and E2E_PAGE (the page's URL) point it at something
// already running instead, such as the stack published to the local AWS; E2E_API alone
// builds and serves the page against that API. Screenshots go to e2e/artifacts/ (or
// E2E_ARTIFACTS). `e2e/deployed.sh` runs it against the page `pixelctl deploy dev`
// publishes to the local AWS, opened through the distribution's local host.
//
//   npm run e2e        (needs /usr/bin/chromium and target/debug/pixelctl)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { buildPage, FRONTEND } from './build-page.mjs';
import { CHROMIUM, CHROMIUM_ARGS, requireChromium } from './chromium.mjs';
import { serveStatic } from './static-server.mjs';

const REPO = resolve(FRONTEND, '..');
const ARTIFACTS = resolve(process.env.E2E_ARTIFACTS ?? join(FRONTEND, 'e2e', 'artifacts'));
const PIXELCTL = process.env.PIXELCTL ?? join(REPO, 'target', 'debug', 'pixelctl');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 360, height: 780 };
/** Generations per IP and day in the test's own environment: one in the browser, two
 * made directly for gallery paging, one for the failed model; the next one is a 429. */
const IP_LIMIT = 4;
const WAIT_MS = 60_000;

/** What the tests run against, and how to stop what `before` started. */
const env = { api: '', page: '', stops: [] };
let browser;

/** Polls `check` until it returns a truthy value, or fails after `ms` naming `what`. */
async function eventually(what, check, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts `pixelctl local` and resolves to its base URL once it listens. */
async function startLocalApi(projectDir, pageOrigin) {
  if (!existsSync(PIXELCTL)) {
    throw new Error(`${PIXELCTL} is missing: build it with \`cargo build\` at the repository root (or set PIXELCTL)`);
  }
  await mkdir(join(projectDir, 'environments'), { recursive: true });
  await copyFile(join(REPO, 'environments', 'defaults.yaml'), join(projectDir, 'environments', 'defaults.yaml'));
  await writeFile(
    join(projectDir, 'environments', 'e2e.yaml'),
    [
      '# Written by frontend/e2e/app.e2e.mjs: low limits, CORS for the page under test.',
      'rate_limits:',
      '  global_per_hour: 1000',
      `  per_ip_per_day: ${IP_LIMIT}`,
      'api:',
      '  cors_origins:',
      `    - ${pageOrigin}`,
      'model_count: 4',
      'models:',
      '  - { name: GPT Image 2.6 Sunburst, provider: openai, model: gpt-image-2.6-sunburst }',
      '  - { name: Gemini 3.1 Flash Image, provider: gemini, model: gemini-3.1-flash-image }',
      '  - { name: Stable Image Ultra, provider: bedrock, model: "stability.stable-image-ultra-v1:1" }',
      '  - { name: FLUX.2 Pro, provider: bfl, model: flux-2-pro }',
      '',
    ].join('\n'),
  );
  const args = ['local', 'e2e', '--project-dir', projectDir, '--port', '0', '--data-dir', join(projectDir, 'data'), '--fake-providers'];
  const child = spawn(PIXELCTL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  env.stops.push(
    () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGINT');
      }),
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => (stderr += chunk));
  let exited = false;
  child.once('exit', () => (exited = true));
  return eventually(
    '`pixelctl local` to print its address',
    () => {
      if (exited) throw new Error(`pixelctl local exited: ${stderr}`);
      return /API on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
    },
    30_000,
  );
}

before(async () => {
  requireChromium();
  await mkdir(ARTIFACTS, { recursive: true });
  if (process.env.E2E_PAGE && !process.env.E2E_API) {
    throw new Error('E2E_PAGE needs E2E_API too: the test makes generations through the API directly');
  }
  const work = await mkdtemp(join(tmpdir(), 'pixel-prompt-e2e-'));
  env.stops.push(() => rm(work, { recursive: true, force: true }));
  if (process.env.E2E_PAGE) {
    env.api = process.env.E2E_API.replace(/\/+$/, '');
    env.page = process.env.E2E_PAGE.replace(/\/+$/, '');
  } else {
    const dist = join(work, 'dist');
    await mkdir(dist);
    const server = await serveStatic(dist);
    env.stops.push(server.close);
    env.page = server.url;
    env.api = process.env.E2E_API?.replace(/\/+$/, '') ?? (await startLocalApi(join(work, 'project'), server.url));
    await buildPage({ api: env.api, environment: 'e2e', outDir: dist });
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  env.stops.push(() => browser.close());
});

after(async () => {
  for (const stop of env.stops.reverse()) await stop();
});

/** A browser page of `size` that may reach only this machine; `problems` collects
 * uncaught page errors and any attempt to reach another host. */
async function openPage(size) {
  const context = await browser.newContext({ viewport: size, acceptDownloads: true });
  const problems = [];
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost' || hostname.endsWith('.localhost')) return route.fallback();
    problems.push(`request to another host: ${route.request().url()}`);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { page, problems, close: () => context.close() };
}

/** fetch() for the test's own calls to the API, answering `{status, headers, text,
 * json()}`. `*.localhost` (the local AWS's host names for a deployed API) is loopback:
 * Chromium knows that, Node's resolver (and Playwright's route.fetch) may not, so those
 * requests connect to 127.0.0.1 with the name as their Host. */
async function apiFetch(url, { method = 'GET', headers = {}, body } = {}) {
  const answer = (status, answerHeaders, text) => ({ status, headers: answerHeaders, text, json: async () => JSON.parse(text) });
  if (!new URL(url).hostname.endsWith('.localhost')) {
    const response = await fetch(url, { method, headers, body });
    return answer(response.status, Object.fromEntries(response.headers), await response.text());
  }
  const lookup = (_name, options, done) =>
    options.all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4);
  return new Promise((resolveAnswer, reject) => {
    const sent = httpRequest(url, { method, headers, lookup }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolveAnswer(answer(response.statusCode, response.headers, Buffer.concat(chunks).toString('utf8'))));
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end(body);
  });
}

async function apiGenerate(prompt) {
  const response = await apiFetch(`${env.api}/generate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
  return { status: response.status, body: await response.json() };
}

async function waitForJob(jobId) {
  return eventually(`job ${jobId} to finish`, async () => {
    const job = await (await apiFetch(`${env.api}/status/${jobId}`)).json();
    return ['completed', 'partial', 'failed'].includes(job.status) ? job : null;
  });
}

/** Clicks Generate and returns the API's answer to the POST the page sent. */
async function generateInPage(page, prompt) {
  await page.getByRole('textbox', { name: 'Prompt' }).fill(prompt);
  const answer = page.waitForResponse((r) => r.url() === `${env.api}/generate` && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Generate' }).click();
  return answer;
}

/** Every image under `selector` has loaded real pixels. */
function imagesLoaded(page, selector, count) {
  return page.waitForFunction(
    ([css, n]) => {
      const images = [...document.querySelectorAll(css)];
      return images.length === n && images.every((img) => img.complete && img.naturalWidth > 0);
    },
    [selector, count],
    { timeout: WAIT_MS },
  );
}

async function noHorizontalScroll(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the ${PHONE.width} px screen`);
}

const jobs = { fromPage: '', direct: [] };

test('generate: one tile per model at once, each fills with an image that loads', { timeout: 120_000 }, async () => {
  const { page, problems, close } = await openPage(DESKTOP);
  await page.goto(env.page);
  const prompt = 'a lighthouse on a cliff at sunset';
  const response = await generateInPage(page, prompt);
  assert.equal(response.status(), 200);
  const sent = response.request().headers()['x-correlation-id'];
  assert.match(sent ?? '', /^[A-Za-z0-9-]{16,128}$/, 'the page sends an X-Correlation-ID');
  assert.equal(response.headers()['x-correlation-id'], sent, 'the API echoes it');
  const { jobId, totalModels } = await response.json();
  jobs.fromPage = jobId;

  const tiles = page.locator('.results .tile');
  await eventually('the tiles', async () => (await tiles.count()) > 0);
  assert.equal(await tiles.count(), totalModels, 'one tile per model from totalModels');

  await imagesLoaded(page, '.results .tile[data-status="completed"] img', totalModels);
  await page.getByText(`All ${totalModels} images are ready.`).waitFor();
  const job = await waitForJob(jobId);
  const captions = await page.locator('.results .tile .tile-title').allTextContents();
  assert.deepEqual(captions, job.results.map((r) => r.model));
  const times = await page.locator('.results .tile .tile-caption .muted').allTextContents();
  assert.deepEqual(times, job.results.map((r) => `${r.duration.toFixed(1)} s`));
  await page.screenshot({ path: join(ARTIFACTS, 'generate-desktop.png'), fullPage: true });

  // The large view, by keyboard: a dialog that Esc closes, focus back on the tile.
  const first = page.getByRole('button', { name: `Open the image by ${job.results[0].model}` });
  await first.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: job.results[0].model });
  await dialog.waitFor();
  await imagesLoaded(page, '.dialog img', 1);
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Close');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Download', 'Tab stays in the dialog');
  await page.screenshot({ path: join(ARTIFACTS, 'dialog-desktop.png') });
  const download = page.waitForEvent('download');
  await dialog.getByRole('button', { name: 'Download' }).click();
  assert.match((await download).suggestedFilename(), /^pixel-prompt-[a-z0-9-]+\.png$/);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), `Open the image by ${job.results[0].model}`);

  await page.setViewportSize(PHONE);
  await noHorizontalScroll(page);
  await page.screenshot({ path: join(ARTIFACTS, 'generate-phone.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await close();
});

test('gallery: the new generations come first and "Load more" pages on', { timeout: 120_000 }, async () => {
  assert.ok(jobs.fromPage, 'the generate test ran first');
  for (const n of [1, 2]) {
    const { status, body } = await apiGenerate(`a gallery paging check, number ${n}`);
    assert.equal(status, 200, JSON.stringify(body));
    jobs.direct.push(body.jobId);
    await waitForJob(body.jobId);
  }
  const newestFirst = [...jobs.direct].reverse().concat(jobs.fromPage).map((id) => `/gallery/${id}`);

  const { page, problems, close } = await openPage(DESKTOP);
  await page.goto(`${env.page}/gallery?limit=2`);
  const cards = page.locator('.gallery-card a');
  await eventually('the first page', async () => (await cards.count()) === 2);
  assert.deepEqual(await cards.evaluateAll((links) => links.map((a) => a.getAttribute('href'))), newestFirst.slice(0, 2));

  await page.getByRole('button', { name: 'Load more' }).click();
  await eventually('the second page', async () => (await cards.count()) > 2);
  const hrefs = await cards.evaluateAll((links) => links.map((a) => a.getAttribute('href')));
  assert.ok(hrefs.length <= 4, `a page holds at most 2: ${hrefs}`);
  assert.equal(hrefs[2], newestFirst[2]);
  assert.equal(new Set(hrefs).size, hrefs.length, 'no generation listed twice');
  await imagesLoaded(page, '.gallery-card img', hrefs.length);
  await page.screenshot({ path: join(ARTIFACTS, 'gallery-desktop.png'), fullPage: true });

  await page.setViewportSize(PHONE);
  await noHorizontalScroll(page);
  await page.screenshot({ path: join(ARTIFACTS, 'gallery-phone.png'), fullPage: false });

  // One generation: its prompt (from the job) and every image.
  await page.setViewportSize(DESKTOP);
  await page.locator(`.gallery-card a[href="/gallery/${jobs.fromPage}"]`).click();
  await page.getByText('a lighthouse on a cliff at sunset').waitFor();
  const job = await waitForJob(jobs.fromPage);
  await imagesLoaded(page, '.tiles img', job.totalModels);
  assert.equal(new URL(page.url()).pathname, `/gallery/${jobs.fromPage}`);
  await page.screenshot({ path: join(ARTIFACTS, 'gallery-item-desktop.png'), fullPage: true });

  // A reload on a deep link is served the app, which finds its way back.
  await page.reload();
  await page.getByText('a lighthouse on a cliff at sunset').waitFor();
  await page.getByRole('link', { name: '← Back to the gallery' }).click();
  await page.getByRole('heading', { name: 'Gallery' }).waitFor();
  assert.deepEqual(problems, []);
  await close();
});

test('errors: a blocked prompt, then a failed model shown beside the images of the others', { timeout: 120_000 }, async () => {
  const { page, problems, close } = await openPage(DESKTOP);
  await page.goto(env.page);

  const refused = await generateInPage(page, 'a nude statue');
  assert.equal(refused.status(), 400);
  await page.getByRole('alert').filter({ hasText: 'Prompt contains content that is not allowed' }).waitFor();

  // Against the local AWS (E2E_PROVIDER_CONTROL, its fake providers' controls) Gemini
  // really fails. `pixelctl local`'s built-in fake providers never fail
  // (lambda/src/providers/fake.rs has no trigger), so there the browser turns one model
  // of the real status answer into the API's error shape.
  const control = process.env.E2E_PROVIDER_CONTROL?.replace(/\/+$/, '');
  let failure = 'provider error (HTTP 500): The server had an error while processing your request.';
  const providerControl = async (name, body) => {
    const answer = await fetch(`${control}/${name}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(answer.status, 200, `provider control ${name}: ${await answer.text()}`);
  };
  if (control) {
    await providerControl('fail', { provider: 'gemini', status: 500, message: 'The model is overloaded. Please try again later.' });
  } else await page.route('**/status/*', async (route) => {
    const { host: _host, ...sent } = route.request().headers();
    const response = await apiFetch(route.request().url(), { headers: sent });
    const job = await response.json();
    const second = job.results.find((r) => r.index === 1);
    if (second && (second.status === 'completed' || second.status === 'error')) {
      Object.assign(second, { status: 'error', error: failure });
      delete second.imageUrl;
      if (job.status === 'completed') job.status = 'partial';
    }
    const headers = Object.fromEntries(
      Object.entries(response.headers).filter(([name]) => !['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(name)),
    );
    await route.fulfill({ status: response.status, headers, json: job });
  });
  const response = await generateInPage(page, 'a red fox in fresh snow');
  const { jobId, totalModels } = await response.json();
  if (control) {
    const job = await waitForJob(jobId);
    await providerControl('clear', { provider: 'gemini' });
    const failed = job.results.filter((r) => r.status === 'error');
    assert.equal(failed.length, 1, JSON.stringify(job.results));
    assert.match(failed[0].error, /overloaded/, 'the provider\'s own message reaches the API');
    failure = failed[0].error;
  }
  await page.getByText(`${totalModels - 1} of ${totalModels} models made an image; 1 failed.`).waitFor({ timeout: WAIT_MS });
  await imagesLoaded(page, '.results .tile[data-status="completed"] img', totalModels - 1);
  const failed = page.locator('.results .tile[data-status="error"]');
  assert.equal(await failed.count(), 1);
  assert.equal(await failed.locator('.tile-error').textContent(), failure);
  await page.screenshot({ path: join(ARTIFACTS, 'failed-model-desktop.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await close();
});

test('429: the limit message and when to try again', { timeout: 120_000 }, async () => {
  // Use up what is left of this IP's quota (none, against the test's own API).
  // The gateway's own throttling of the paid routes (a 429 without the API's
  // error code) only slows the filler down; the API's daily limit is tested.
  let answer = { status: 0, body: {} };
  for (let sent = 0; sent < 500 && answer.body.error !== 'RATE_LIMIT_EXCEEDED'; sent++) {
    answer = await apiGenerate('a quota filler');
    if (answer.status === 429 && answer.body.error !== 'RATE_LIMIT_EXCEEDED') await delay(600);
  }
  assert.equal(answer.status, 429, 'the API never answered 429');
  assert.equal(answer.body.error, 'RATE_LIMIT_EXCEEDED', JSON.stringify(answer.body));

  const { page, problems, close } = await openPage(PHONE);
  await page.goto(env.page);
  const response = await generateInPage(page, 'one more, please');
  assert.equal(response.status(), 429);
  const body = await response.json();
  const alert = page.getByRole('alert').filter({ hasText: body.message });
  await alert.waitFor();
  const text = await alert.textContent();
  assert.match(text, /You can try again in \d+ (second|minute|hour)s? ?.*\(at \d/);
  assert.doesNotMatch(text, /RATE_LIMIT_EXCEEDED/);
  await noHorizontalScroll(page);
  await page.screenshot({ path: join(ARTIFACTS, 'rate-limit-phone.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await close();
});
