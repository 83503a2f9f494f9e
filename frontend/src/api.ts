// The Pixel Prompt API client (docs/API.md): typed calls, one X-Correlation-ID per
// request, and every failure turned into an ApiError whose text a user can act on.

export type ModelStatus = 'pending' | 'in_progress' | 'completed' | 'error';
export type JobStatus = 'pending' | 'in_progress' | 'completed' | 'partial' | 'failed';

export interface GenerateRequest {
  prompt: string;
  steps: number;
  guidance: number;
}

export interface GenerateResponse {
  jobId: string;
  message: string;
  totalModels: number;
  fake?: boolean;
}

export interface ModelResult {
  model: string;
  provider?: string;
  index: number;
  status: ModelStatus;
  duration?: number;
  imageUrl?: string;
  error?: string;
}

export interface Job {
  jobId: string;
  status: JobStatus;
  createdAt?: string;
  totalModels: number;
  completedModels: number;
  prompt?: string;
  parameters?: { steps?: number; guidance?: number };
  results: ModelResult[];
}

export interface EnhanceResponse {
  original: string;
  enhanced: string;
  fallback?: boolean;
}

export interface GalleryEntry {
  id: string;
  timestamp: string;
  preview?: string;
  imageCount: number;
}

export interface GalleryPage {
  galleries: GalleryEntry[];
  total: number;
  nextCursor?: string;
}

export interface GalleryImage {
  key: string;
  url: string;
  model: string;
}

export interface Gallery {
  galleryId: string;
  total: number;
  images: GalleryImage[];
}

export interface ClientLogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  stack?: string;
  metadata?: Record<string, unknown>;
}

/** The limits the API enforces, checked here before sending. */
export const PROMPT_MAX = 1000;
export const ENHANCE_MAX = 500;

/** The code of a failure that never reached the API. */
export const NETWORK_ERROR = 'NETWORK_ERROR';

/** A failed call: the API's own error, or a network failure (`status` 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds to wait before trying again (429 and 503). */
  readonly retryAfter: number | undefined;
  readonly correlationId: string;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    correlationId: string;
    retryAfter?: number | undefined;
  }) {
    super(init.message);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.correlationId = init.correlationId;
    this.retryAfter = init.retryAfter;
  }

  /** Whether trying the same call again later can succeed. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface ApiClient {
  generate(request: GenerateRequest, signal?: AbortSignal): Promise<GenerateResponse>;
  status(jobId: string, signal?: AbortSignal): Promise<Job>;
  enhance(prompt: string, signal?: AbortSignal): Promise<EnhanceResponse>;
  listGalleries(page: { limit?: number; cursor?: string }, signal?: AbortSignal): Promise<GalleryPage>;
  gallery(id: string, signal?: AbortSignal): Promise<Gallery>;
  /** Best effort: never throws. */
  log(entry: ClientLogEntry): Promise<void>;
}

export interface ApiClientOptions {
  baseUrl: string;
  fetch?: typeof fetch;
  newCorrelationId?: () => string;
}

/** A fresh id for X-Correlation-ID (the API accepts up to 128 of `A-Za-z0-9-_.:`). */
export function newCorrelationId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Seconds from the body's `retryAfter`, else the `Retry-After` header (seconds or a date). */
export function retryAfterSeconds(body: unknown, headers: Headers, now = Date.now()): number | undefined {
  const fromBody = isRecord(body) ? body.retryAfter : undefined;
  if (typeof fromBody === 'number' && Number.isFinite(fromBody) && fromBody >= 0) return Math.ceil(fromBody);
  const header = headers.get('Retry-After');
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fallbackMessage(status: number): string {
  if (status === 429) return 'Too many requests right now.';
  if (status >= 500) return `The Pixel Prompt service had a problem (HTTP ${status}). Please try again in a moment.`;
  return `The request was refused (HTTP ${status}).`;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const correlationId = options.newCorrelationId ?? newCorrelationId;

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const id = correlationId();
    const headers: Record<string, string> = { 'X-Correlation-ID': id };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: signal ?? null,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError({
        status: 0,
        code: NETWORK_ERROR,
        message: 'Could not reach the Pixel Prompt service. Check your connection and try again.',
        correlationId: id,
      });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const message = isRecord(parsed) && typeof parsed.message === 'string' && parsed.message.trim() !== ''
        ? parsed.message
        : fallbackMessage(response.status);
      const code = isRecord(parsed) && typeof parsed.error === 'string' ? parsed.error : `HTTP_${response.status}`;
      throw new ApiError({
        status: response.status,
        code,
        message,
        correlationId: response.headers.get('X-Correlation-ID') ?? id,
        retryAfter: retryAfterSeconds(parsed, response.headers),
      });
    }
    if (parsed === undefined) {
      throw new ApiError({
        status: response.status,
        code: 'INVALID_RESPONSE',
        message: 'The Pixel Prompt service sent an answer this page cannot read. Please try again.',
        correlationId: id,
      });
    }
    return parsed as T;
  }

  return {
    generate: (request, signal) => call<GenerateResponse>('POST', '/generate', request, signal),
    status: (jobId, signal) => call<Job>('GET', `/status/${encodeURIComponent(jobId)}`, undefined, signal),
    enhance: (prompt, signal) => call<EnhanceResponse>('POST', '/enhance', { prompt }, signal),
    listGalleries: ({ limit, cursor }, signal) => {
      const query = new URLSearchParams();
      if (limit !== undefined) query.set('limit', String(limit));
      if (cursor !== undefined) query.set('cursor', cursor);
      const suffix = query.toString() === '' ? '' : `?${query.toString()}`;
      return call<GalleryPage>('GET', `/gallery/list${suffix}`, undefined, signal);
    },
    gallery: (id, signal) => call<Gallery>('GET', `/gallery/${encodeURIComponent(id)}`, undefined, signal),
    log: async (entry) => {
      try {
        await call<unknown>('POST', '/log', entry);
      } catch {
        // Reporting an error must never cause another one.
      }
    },
  };
}

/** "42 seconds", "3 minutes", "2 hours 5 minutes". */
export function formatWait(seconds: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds < 60) return plural(Math.max(1, Math.ceil(seconds)), 'second');
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return plural(minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? plural(hours, 'hour') : `${plural(hours, 'hour')} ${plural(rest, 'minute')}`;
}

/** What to tell the user about a failed call: the API's message, plus when to retry. */
export function describeError(error: unknown, now = new Date()): string {
  if (!(error instanceof ApiError)) {
    return error instanceof Error && error.message ? error.message : 'Something went wrong. Please try again.';
  }
  if (error.retryAfter === undefined || !(error.status === 429 || error.status === 503)) return error.message;
  const at = new Date(now.getTime() + error.retryAfter * 1000);
  const clock = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const sentence = /[.!?]$/.test(error.message) ? error.message : `${error.message}.`;
  return `${sentence} You can try again in ${formatWait(error.retryAfter)} (at ${clock}).`;
}
