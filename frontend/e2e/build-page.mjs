// Builds the page against a given API into a folder, reading no .env file, so what the
// e2e test and the Lighthouse run load is exactly the build they asked for.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'vite';

export const FRONTEND = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildPage({ api, environment, outDir }) {
  const noEnvFiles = await mkdtemp(join(tmpdir(), 'pixel-prompt-env-'));
  for (const key of Object.keys(process.env)) if (key.startsWith('VITE_')) delete process.env[key];
  process.env.VITE_API_ENDPOINT = api;
  process.env.VITE_ENVIRONMENT = environment;
  try {
    await build({
      root: FRONTEND,
      configFile: join(FRONTEND, 'vite.config.ts'),
      envDir: noEnvFiles,
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true },
    });
  } finally {
    await rm(noEnvFiles, { recursive: true, force: true });
  }
}
