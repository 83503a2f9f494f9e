// Client-side routes (`/`, `/gallery`, `/gallery/:id`) on the History API: a hook for
// the current location and a navigate() that pushes a new entry.

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { name: 'generate' }
  | { name: 'gallery'; pageSize: number | undefined }
  | { name: 'gallery-item'; id: string }
  | { name: 'not-found'; path: string };

const NAVIGATE_EVENT = 'pixelprompt:navigate';

/** `?limit=N` on /gallery sets the page size (1..100), e.g. to check paging. */
function pageSize(search: string): number | undefined {
  const raw = new URLSearchParams(search).get('limit');
  if (raw === null || !/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= 1 && n <= 100 ? n : undefined;
}

export function parseRoute(pathname: string, search = ''): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { name: 'generate' };
  if (path === '/gallery') return { name: 'gallery', pageSize: pageSize(search) };
  const item = /^\/gallery\/([^/]+)$/.exec(path);
  if (item?.[1]) return { name: 'gallery-item', id: decodeURIComponent(item[1]) };
  return { name: 'not-found', path: pathname };
}

export function navigate(to: string): void {
  if (to === window.location.pathname + window.location.search) return;
  window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

/** Follows a plain left click on an in-app link without reloading the page. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (anchor.origin !== window.location.origin || anchor.target) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}

/** The current route; re-renders on navigate() and on back/forward. */
export function useRoute(): Route {
  const read = () => parseRoute(window.location.pathname, window.location.search);
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const update = () => setRoute(read());
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATE_EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATE_EVENT, update);
    };
  }, []);
  return route;
}
