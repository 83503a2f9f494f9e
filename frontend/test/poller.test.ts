import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { ApiError, type Job } from '../src/api';
import { backoffDelay, pollJob, type PollOutcome } from '../src/poller';
import { job, result } from './helpers';

const running = job([result(0, 'A', 'in_progress'), result(1, 'B', 'pending')]);
const done = job([result(0, 'A', 'completed'), result(1, 'B', 'error', { error: 'boom' })]);
const networkDown = () => new ApiError({ status: 0, code: 'NETWORK_ERROR', message: 'offline', correlationId: 'c' });

/** A status source answering from a script, recording the (fake) time of each call. */
function source(script: Array<Job | Error | 'hang'>) {
  const times: number[] = [];
  const fetchStatus = vi.fn((signal: AbortSignal) => {
    times.push(Date.now());
    const next = script.length > 1 ? script.shift() : script[0];
    if (next === 'hang' || next === undefined) {
      return new Promise<Job>((_, reject) => signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    }
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  });
  return { fetchStatus, times };
}

describe('pollJob', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks at once, then every 2 s, and stops when the job is done', async () => {
    const { fetchStatus, times } = source([running, running, done]);
    const updates: Job[] = [];
    const outcome = pollJob(fetchStatus, { onUpdate: (j) => updates.push(j) });
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(outcome).resolves.toEqual({ kind: 'done', job: done });
    expect(times).toEqual([0, 2_000, 4_000]);
    expect(updates).toEqual([running, running, done]);
  });

  it('backs off after errors (4 s, 8 s, ...) and returns to 2 s after a success', async () => {
    const { fetchStatus, times } = source([networkDown(), networkDown(), running, running, done]);
    const retries: number[] = [];
    const outcome = pollJob(fetchStatus, { onUpdate: () => undefined, onRetry: (_, wait) => retries.push(wait) });
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(outcome).resolves.toMatchObject({ kind: 'done' });
    expect(times).toEqual([0, 4_000, 12_000, 14_000, 16_000]);
    expect(retries).toEqual([4_000, 8_000]);
  });

  it('caps the back-off at 30 s', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n))).toEqual([4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('gives up after 5 minutes with the last state it saw', async () => {
    const { fetchStatus, times } = source([running]);
    let outcome: PollOutcome | undefined;
    void pollJob(fetchStatus, { onUpdate: () => undefined }).then((o) => (outcome = o));
    await vi.advanceTimersByTimeAsync(299_999);
    expect(outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toEqual({ kind: 'timed-out', job: running });
    expect(times.length).toBe(150);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(times.length).toBe(150);
  });

  it('gives up after 5 minutes even while a status call hangs', async () => {
    const { fetchStatus } = source([running, 'hang']);
    const outcome = pollJob(fetchStatus, { onUpdate: () => undefined });
    await vi.advanceTimersByTimeAsync(300_000);
    await expect(outcome).resolves.toEqual({ kind: 'timed-out', job: running });
  });

  it('stops on an error that retrying cannot fix (unknown job)', async () => {
    const notFound = new ApiError({ status: 404, code: 'JOB_NOT_FOUND', message: 'Job not found', correlationId: 'c' });
    const { fetchStatus } = source([notFound]);
    const outcome = pollJob(fetchStatus, { onUpdate: () => undefined });
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(outcome).resolves.toEqual({ kind: 'failed', error: notFound });
    expect(fetchStatus).toHaveBeenCalledTimes(1);
  });

  it('stops when aborted', async () => {
    const { fetchStatus } = source([running]);
    const controller = new AbortController();
    const outcome = pollJob(fetchStatus, { onUpdate: () => undefined, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(3_000);
    controller.abort();
    await expect(outcome).resolves.toEqual({ kind: 'aborted' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetchStatus).toHaveBeenCalledTimes(2);
  });
});
