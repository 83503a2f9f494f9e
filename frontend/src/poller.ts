// Follows a generation job: GET /status every 2 s, slower after errors, until the job
// is done or 5 minutes have passed (the old web client's behaviour, REFERENCE.md §1).

import { ApiError, type Job } from './api';

export const POLL_INTERVAL_MS = 2_000;
export const MAX_BACKOFF_MS = 30_000;
export const GIVE_UP_AFTER_MS = 5 * 60_000;

export type PollOutcome =
  | { kind: 'done'; job: Job }
  | { kind: 'timed-out'; job: Job | undefined }
  | { kind: 'failed'; error: unknown }
  | { kind: 'aborted' };

export interface PollOptions {
  onUpdate: (job: Job) => void;
  /** A status call failed and the next one waits `retryInMs`. */
  onRetry?: (error: unknown, retryInMs: number) => void;
  signal?: AbortSignal;
  intervalMs?: number;
  maxBackoffMs?: number;
  giveUpAfterMs?: number;
}

/** Every model has an answer, whatever the overall status says. */
export function isFinished(job: Job): boolean {
  return job.status === 'completed' || job.status === 'partial' || job.status === 'failed'
    || (job.totalModels > 0 && job.completedModels >= job.totalModels);
}

/** The wait after `failures` failed calls in a row: 4 s, 8 s, 16 s, then 30 s. */
export function backoffDelay(failures: number, intervalMs = POLL_INTERVAL_MS, maxBackoffMs = MAX_BACKOFF_MS): number {
  return Math.min(intervalMs * 2 ** failures, maxBackoffMs);
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Asks `fetchStatus` at once, then every `intervalMs` until the job is finished.
 * A failed call that may succeed later (network, 429, 5xx) doubles the wait, up to
 * `maxBackoffMs`; any other failure (an unknown job) ends polling. After
 * `giveUpAfterMs` the call in flight is cancelled and the last state returned.
 */
export async function pollJob(
  fetchStatus: (signal: AbortSignal) => Promise<Job>,
  options: PollOptions,
): Promise<PollOutcome> {
  const intervalMs = options.intervalMs ?? POLL_INTERVAL_MS;
  const maxBackoffMs = options.maxBackoffMs ?? MAX_BACKOFF_MS;
  const giveUpAfterMs = options.giveUpAfterMs ?? GIVE_UP_AFTER_MS;

  const deadline = new AbortController();
  const giveUp = setTimeout(() => deadline.abort(), giveUpAfterMs);
  const outer = options.signal;
  const onOuterAbort = () => deadline.abort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const stopped = (): PollOutcome => (outer?.aborted ? { kind: 'aborted' } : { kind: 'timed-out', job: last });

  let last: Job | undefined;
  let failures = 0;
  try {
    if (outer?.aborted) return { kind: 'aborted' };
    for (;;) {
      try {
        const job = await fetchStatus(deadline.signal);
        if (deadline.signal.aborted) return stopped();
        last = job;
        failures = 0;
        options.onUpdate(job);
        if (isFinished(job)) return { kind: 'done', job };
      } catch (error) {
        if (deadline.signal.aborted) return stopped();
        if (error instanceof ApiError && !error.transient) return { kind: 'failed', error };
        failures += 1;
        options.onRetry?.(error, backoffDelay(failures, intervalMs, maxBackoffMs));
      }
      const delay = failures === 0 ? intervalMs : backoffDelay(failures, intervalMs, maxBackoffMs);
      if (!(await wait(delay, deadline.signal))) return stopped();
    }
  } finally {
    clearTimeout(giveUp);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}
