// The gallery: past generations, newest first, a page at a time ("Load more" follows
// the API's nextCursor).

import { useEffect, useRef, useState } from 'preact/hooks';

import { describeError, type ApiClient, type GalleryEntry } from '../api';
import { onLinkClick } from '../router';

export const DEFAULT_PAGE_SIZE = 12;
const EAGER_PREVIEWS = 4;

interface Props {
  api: ApiClient;
  pageSize?: number | undefined;
}

export function formatWhen(timestamp: string): string {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return timestamp;
  return date.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

export function GalleryView({ api, pageSize = DEFAULT_PAGE_SIZE }: Props) {
  const [entries, setEntries] = useState<GalleryEntry[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [focusFrom, setFocusFrom] = useState<number | null>(null);
  const firstNew = useRef<HTMLAnchorElement>(null);
  const controller = useRef<AbortController | null>(null);

  const load = async (after: string | undefined) => {
    controller.current?.abort();
    const current = new AbortController();
    controller.current = current;
    setLoading(true);
    setError(null);
    try {
      const page = await api.listGalleries(after === undefined ? { limit: pageSize } : { limit: pageSize, cursor: after }, current.signal);
      if (current.signal.aborted) return;
      setFocusFrom(after === undefined ? null : entries.length);
      setEntries((old) => (after === undefined ? page.galleries : [...old, ...page.galleries]));
      setTotal(page.total);
      setCursor(page.nextCursor);
    } catch (caught) {
      if (!current.signal.aborted) setError(describeError(caught));
    } finally {
      if (!current.signal.aborted) setLoading(false);
    }
  };

  useEffect(() => {
    void load(undefined);
    return () => controller.current?.abort();
  }, [api, pageSize]);

  // After "Load more", move focus to the first new entry so keyboard users go on from there.
  useEffect(() => {
    if (focusFrom !== null) firstNew.current?.focus();
  }, [focusFrom, entries]);

  return (
    <section class="view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        Gallery
      </h1>
      <p class="muted" aria-live="polite">
        {total === null
          ? 'Loading past generations…'
          : total === 0
            ? 'No generations yet.'
            : `Showing ${entries.length} of ${total} generation${total === 1 ? '' : 's'}, newest first.`}
      </p>

      {total === 0 && (
        <p>
          <a href="/" onClick={onLinkClick}>
            Create the first one
          </a>
          .
        </p>
      )}

      {entries.length > 0 && (
        <ul class="gallery-grid">
          {entries.map((entry, index) => (
            <li key={entry.id} class="gallery-card">
              <a
                href={`/gallery/${encodeURIComponent(entry.id)}`}
                onClick={onLinkClick}
                ref={index === focusFrom ? firstNew : undefined}
              >
                {entry.preview ? (
                  <img
                    src={entry.preview}
                    alt=""
                    width={256}
                    height={256}
                    // The first row is what the page shows first: load it at once.
                    loading={index < EAGER_PREVIEWS ? 'eager' : 'lazy'}
                    fetchpriority={index === 0 ? 'high' : 'auto'}
                  />
                ) : (
                  <span class="no-preview" aria-hidden="true" />
                )}
                <span class="gallery-card-text">
                  <span class="tile-title">{formatWhen(entry.timestamp)}</span>
                  <span class="muted">
                    {entry.imageCount} image{entry.imageCount === 1 ? '' : 's'}
                  </span>
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}

      {error && (
        <div class="card problem" role="alert">
          <p>{error}</p>
          <button type="button" class="button" onClick={() => void load(entries.length > 0 ? cursor : undefined)}>
            Retry
          </button>
        </div>
      )}

      {!error && cursor !== undefined && (
        <button type="button" class="button secondary load-more" disabled={loading} onClick={() => void load(cursor)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}
