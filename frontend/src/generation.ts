// One generation from the user's point of view: send the prompt, show one tile per
// model at once (as many as the API's `totalModels`), fill each in as its model
// finishes. Lives in <App> so it keeps polling while the user looks at the gallery.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

import { ApiError, describeError, type ApiClient, type GenerateRequest, type Job, type ModelStatus } from './api';
import { pollJob, type PollOptions } from './poller';

export interface Tile {
  index: number;
  /** Unknown until the first status answer names it. */
  model: string | undefined;
  status: ModelStatus;
  duration?: number | undefined;
  imageUrl?: string | undefined;
  error?: string | undefined;
}

export type Phase = 'idle' | 'submitting' | 'running' | 'done' | 'timed-out' | 'failed';

export interface Generation {
  phase: Phase;
  request?: GenerateRequest;
  jobId?: string;
  tiles: Tile[];
  /** What went wrong, in words; `retryable` offers the Retry button. */
  error?: { message: string; retryable: boolean };
  /** Passing trouble while polling (the poller keeps trying). */
  notice?: string;
  fake?: boolean;
}

const IDLE: Generation = { phase: 'idle', tiles: [] };

export function emptyTiles(count: number): Tile[] {
  return Array.from({ length: Math.max(0, count) }, (_, index) => ({ index, model: undefined, status: 'pending' }));
}

/** The tiles updated from a status answer, matched by each result's `index`. */
export function mergeResults(tiles: Tile[], job: Job): Tile[] {
  const count = Math.max(tiles.length, job.totalModels, ...job.results.map((r) => r.index + 1));
  const next = tiles.length === count ? [...tiles] : [...tiles, ...emptyTiles(count).slice(tiles.length)];
  for (const result of job.results) {
    next[result.index] = {
      index: result.index,
      model: result.model,
      status: result.status,
      duration: result.duration,
      imageUrl: result.imageUrl,
      error: result.error,
    };
  }
  return next;
}

export interface GenerationControls {
  generation: Generation;
  start: (request: GenerateRequest) => void;
  retry: () => void;
}

export function useGeneration(api: ApiClient, pollOptions: Partial<PollOptions> = {}): GenerationControls {
  const [generation, setGeneration] = useState<Generation>(IDLE);
  const current = useRef<AbortController | null>(null);
  const lastRequest = useRef<GenerateRequest | null>(null);

  useEffect(() => () => current.current?.abort(), []);

  const start = useCallback(
    (request: GenerateRequest) => {
      current.current?.abort();
      const controller = new AbortController();
      current.current = controller;
      lastRequest.current = request;
      const update = (change: (g: Generation) => Generation) => {
        if (!controller.signal.aborted) setGeneration(change);
      };
      setGeneration({ phase: 'submitting', request, tiles: [] });

      void (async () => {
        let created;
        try {
          created = await api.generate(request, controller.signal);
        } catch (error) {
          const retryable = error instanceof ApiError ? error.status === 0 || error.status >= 500 : true;
          update((g) => ({ ...g, phase: 'failed', error: { message: describeError(error), retryable } }));
          return;
        }
        update((g) => ({
          ...g,
          phase: 'running',
          jobId: created.jobId,
          fake: created.fake === true,
          tiles: emptyTiles(created.totalModels),
        }));
        const outcome = await pollJob((signal) => api.status(created.jobId, signal), {
          ...pollOptions,
          signal: controller.signal,
          onUpdate: (job) => update((g) => ({ ...g, tiles: mergeResults(g.tiles, job), notice: undefined })),
          onRetry: (error, retryInMs) =>
            update((g) => ({
              ...g,
              notice: `${describeError(error)} Checking again in ${Math.round(retryInMs / 1000)} s.`,
            })),
        });
        switch (outcome.kind) {
          case 'done':
            update((g) => ({ ...g, phase: 'done', notice: undefined }));
            break;
          case 'timed-out':
            update((g) => ({
              ...g,
              phase: 'timed-out',
              notice: undefined,
              error: {
                message: 'Stopped waiting after 5 minutes. Images that finish later will still appear in the gallery.',
                retryable: false,
              },
            }));
            break;
          case 'failed':
            update((g) => ({
              ...g,
              phase: 'failed',
              notice: undefined,
              error: { message: describeError(outcome.error), retryable: false },
            }));
            break;
          case 'aborted':
            break;
        }
      })();
    },
    [api],
  );

  const retry = useCallback(() => {
    if (lastRequest.current) start(lastRequest.current);
  }, [start]);

  return { generation, start, retry };
}
