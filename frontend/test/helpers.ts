// A scripted API behind a mocked fetch: each test says how every route answers and
// can hold an answer back until it chooses to release it.

import { vi } from 'vitest';

import { createApiClient, type ApiClient, type Job, type ModelResult } from '../src/api';

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

export type Handler = (call: Call) => Response | Promise<Response>;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export function scriptedApi(handler: Handler): { api: ApiClient; calls: Call[]; fetch: ReturnType<typeof vi.fn> } {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const raw = init?.body;
    const call: Call = {
      method: init?.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: typeof raw === 'string' ? JSON.parse(raw) : undefined,
    };
    calls.push(call);
    return handler(call);
  });
  const api = createApiClient({ baseUrl: 'http://api.test', fetch: fetchMock as unknown as typeof fetch });
  return { api, calls, fetch: fetchMock };
}

export function result(index: number, model: string, status: ModelResult['status'], extra: Partial<ModelResult> = {}): ModelResult {
  return { index, model, status, ...extra };
}

export function job(results: ModelResult[], extra: Partial<Job> = {}): Job {
  const finished = results.filter((r) => r.status === 'completed' || r.status === 'error').length;
  const ok = results.filter((r) => r.status === 'completed').length;
  const status: Job['status'] =
    finished < results.length ? 'in_progress' : ok === results.length ? 'completed' : ok === 0 ? 'failed' : 'partial';
  return {
    jobId: 'job-1',
    status,
    totalModels: results.length,
    completedModels: finished,
    prompt: 'a red fox',
    parameters: { steps: 25, guidance: 7 },
    results,
    ...extra,
  };
}
