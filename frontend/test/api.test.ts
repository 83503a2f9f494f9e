import { describe, expect, it } from 'vitest';

import { ApiError, createApiClient, describeError, formatWait, NETWORK_ERROR, retryAfterSeconds } from '../src/api';
import { json, scriptedApi } from './helpers';

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

describe('API client', () => {
  it('sends a fresh X-Correlation-ID with every request and JSON only where there is a body', async () => {
    const { api, calls } = scriptedApi(() => json({ jobId: 'j', message: 'ok', totalModels: 3 }));
    await api.generate({ prompt: 'a fox', steps: 25, guidance: 7 });
    await api.generate({ prompt: 'a fox', steps: 25, guidance: 7 });
    await api.status('j').catch(() => undefined);

    const ids = calls.map((c) => c.headers.get('X-Correlation-ID'));
    expect(ids.every((id) => typeof id === 'string' && /^[A-Za-z0-9-]{16,128}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(3);
    expect(calls[0]?.headers.get('Content-Type')).toBe('application/json');
    expect(calls[0]?.body).toEqual({ prompt: 'a fox', steps: 25, guidance: 7 });
    expect(calls[2]?.method).toBe('GET');
    expect(calls[2]?.headers.get('Content-Type')).toBeNull();
  });

  it("turns an API error into the API's message, not its code", async () => {
    const { api } = scriptedApi(() =>
      json({ error: 'INAPPROPRIATE_CONTENT', message: 'Prompt contains content that is not allowed' }, 400, {
        'X-Correlation-ID': 'abc-123',
      }),
    );
    const error = await failure(api.generate({ prompt: 'x', steps: 25, guidance: 7 }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('INAPPROPRIATE_CONTENT');
    expect(error.correlationId).toBe('abc-123');
    expect(error.transient).toBe(false);
    expect(describeError(error)).toBe('Prompt contains content that is not allowed');
  });

  it('says when to retry after a 429, from the body and from Retry-After', async () => {
    const now = new Date('2026-11-29T10:00:00');
    const fromBody = scriptedApi(() =>
      json({ error: 'RATE_LIMIT_EXCEEDED', message: 'Too many requests from this IP address today', retryAfter: 7260 }, 429),
    );
    const error = await failure(fromBody.api.generate({ prompt: 'x', steps: 25, guidance: 7 }));
    expect(error.retryAfter).toBe(7260);
    expect(error.transient).toBe(true);
    const text = describeError(error, now);
    expect(text).toMatch(/^Too many requests from this IP address today\. You can try again in 2 hours 1 minute \(at /);
    expect(text).toContain(new Date(now.getTime() + 7260_000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));

    const fromHeader = scriptedApi(() => json({ error: 'RATE_LIMIT_EXCEEDED', message: 'Slow down' }, 429, { 'Retry-After': '42' }));
    const headerError = await failure(fromHeader.api.generate({ prompt: 'x', steps: 25, guidance: 7 }));
    expect(headerError.retryAfter).toBe(42);
    expect(describeError(headerError, now)).toMatch(/^Slow down\. You can try again in 42 seconds/);
  });

  it('reads Retry-After given as a date', () => {
    const now = Date.parse('2026-11-29T10:00:00Z');
    const headers = new Headers({ 'Retry-After': 'Sun, 29 Nov 2026 10:01:30 GMT' });
    expect(retryAfterSeconds(undefined, headers, now)).toBe(90);
    expect(retryAfterSeconds({}, new Headers(), now)).toBeUndefined();
  });

  it('reports a network failure in words, as something to retry', async () => {
    const api = createApiClient({
      baseUrl: 'http://api.test',
      fetch: () => Promise.reject(new TypeError('Failed to fetch')),
    });
    const error = await failure(api.gallery('abc'));
    expect(error.status).toBe(0);
    expect(error.code).toBe(NETWORK_ERROR);
    expect(error.transient).toBe(true);
    expect(describeError(error)).toBe('Could not reach the Pixel Prompt service. Check your connection and try again.');
  });

  it('explains an error page that is not JSON by its status', async () => {
    const { api } = scriptedApi(() => new Response('<html>Bad Gateway</html>', { status: 502 }));
    const error = await failure(api.status('j'));
    expect(error.code).toBe('HTTP_502');
    expect(error.message).toBe('The Pixel Prompt service had a problem (HTTP 502). Please try again in a moment.');
  });

  it('asks for gallery pages with limit and cursor', async () => {
    const { api, calls } = scriptedApi(() => json({ galleries: [], total: 0 }));
    await api.listGalleries({ limit: 5 });
    await api.listGalleries({ limit: 5, cursor: '8204328887876-0f8f' });
    expect(calls[0]?.path).toBe('/gallery/list');
    expect(calls[0]?.query.get('limit')).toBe('5');
    expect(calls[0]?.query.has('cursor')).toBe(false);
    expect(calls[1]?.query.get('cursor')).toBe('8204328887876-0f8f');
  });

  it('posts client logs and never throws when that fails', async () => {
    const { api, calls } = scriptedApi(() => json({ error: 'RATE_LIMIT_EXCEEDED', message: 'no' }, 429));
    await expect(api.log({ level: 'error', message: 'boom', stack: 'at x' })).resolves.toBeUndefined();
    expect(calls[0]?.path).toBe('/log');
    expect(calls[0]?.body).toEqual({ level: 'error', message: 'boom', stack: 'at x' });
  });
});

describe('formatWait', () => {
  it.each([
    [1, '1 second'],
    [42, '42 seconds'],
    [60, '1 minute'],
    [61, '2 minutes'],
    [3600, '1 hour'],
    [24629, '6 hours 51 minutes'],
  ])('%i s reads "%s"', (seconds, text) => {
    expect(formatWait(seconds)).toBe(text);
  });
});
