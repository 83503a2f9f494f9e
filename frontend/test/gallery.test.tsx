import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import type { GalleryEntry } from '../src/api';
import { App } from '../src/App';
import { job, json, result, scriptedApi, type Handler } from './helpers';

const config = { apiEndpoint: 'http://api.test', cloudfrontDomain: '', environment: 'prod' };

function renderAt(path: string, handler: Handler) {
  window.history.replaceState(null, '', path);
  const scripted = scriptedApi(handler);
  render(<App api={scripted.api} config={config} />);
  return scripted;
}

function entry(n: number): GalleryEntry {
  return {
    id: `g${n}`,
    timestamp: new Date(Date.UTC(2026, 10, 29, 12, n)).toISOString(),
    preview: `http://img.test/g${n}/00-a.png`,
    imageCount: 3,
  };
}

function cards() {
  return screen.queryAllByRole('listitem').map((li) => within(li).getByRole('link').getAttribute('href'));
}

describe('gallery', () => {
  it('pages newest first with the API cursor until the last page', async () => {
    const pages: Record<string, { galleries: GalleryEntry[]; total: number; nextCursor?: string }> = {
      first: { galleries: [entry(5), entry(4)], total: 5, nextCursor: 'c2' },
      c2: { galleries: [entry(3), entry(2)], total: 5, nextCursor: 'c3' },
      c3: { galleries: [entry(1)], total: 5 },
    };
    const { calls } = renderAt('/gallery?limit=2', (call) => json(pages[call.query.get('cursor') ?? 'first']));

    await waitFor(() => expect(cards()).toEqual(['/gallery/g5', '/gallery/g4']));
    expect(screen.getByText('Showing 2 of 5 generations, newest first.')).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(cards()).toHaveLength(4));
    // Focus moves to the first new entry.
    await waitFor(() => expect(document.activeElement?.getAttribute('href')).toBe('/gallery/g3'));

    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(cards()).toEqual(['/gallery/g5', '/gallery/g4', '/gallery/g3', '/gallery/g2', '/gallery/g1']));
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
    expect(screen.getByText('Showing 5 of 5 generations, newest first.')).toBeTruthy();

    expect(calls.map((c) => [c.query.get('limit'), c.query.get('cursor')])).toEqual([
      ['2', null],
      ['2', 'c2'],
      ['2', 'c3'],
    ]);
  });

  it('says so when there is nothing yet', async () => {
    renderAt('/gallery', () => json({ galleries: [], total: 0 }));
    expect(await screen.findByText('No generations yet.')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Create the first one' })).toBeTruthy();
  });

  it('opens a generation in place and shows its prompt and images', async () => {
    const { calls } = renderAt('/gallery', (call) => {
      if (call.path === '/gallery/list') return json({ galleries: [entry(1)], total: 1 });
      if (call.path === '/status/g1') {
        return json(
          job(
            [
              result(0, 'DALL-E 3', 'completed', { duration: 4.2, imageUrl: 'http://img.test/images/g1/00-dall-e-3.png' }),
              result(1, 'Nova Canvas', 'error', { error: 'the provider did not answer in time' }),
            ],
            { jobId: 'g1', prompt: 'a red fox in the snow' },
          ),
        );
      }
      return json({
        galleryId: 'g1',
        total: 1,
        images: [{ key: 'images/g1/00-dall-e-3.png', url: 'http://img.test/images/g1/00-dall-e-3.png', model: 'dall-e-3' }],
      });
    });
    const link = await screen.findByRole('link', { name: /3 images/ });
    fireEvent.click(link);

    expect(window.location.pathname).toBe('/gallery/g1');
    expect(await screen.findByText('a red fox in the snow')).toBeTruthy();
    expect(screen.getByRole('img', { name: 'Image by DALL-E 3' }).getAttribute('src')).toBe('http://img.test/images/g1/00-dall-e-3.png');
    expect(screen.getByText('4.2 s')).toBeTruthy();
    expect(screen.getByText('the provider did not answer in time')).toBeTruthy();
    expect(calls.map((c) => c.path)).toEqual(['/gallery/list', '/status/g1', '/gallery/g1']);
  });

  it("shows a generation's images even when its job record is gone", async () => {
    renderAt('/gallery/old', (call) =>
      call.path === '/status/old'
        ? json({ error: 'JOB_NOT_FOUND', message: 'Job not found' }, 404)
        : json({ galleryId: 'old', total: 1, images: [{ key: 'images/old/00-flux-dev.png', url: 'http://img.test/old.png', model: 'flux-dev' }] }),
    );
    expect(await screen.findByText('The prompt of this generation is no longer stored.')).toBeTruthy();
    expect(screen.getByRole('img', { name: 'Image by flux-dev' })).toBeTruthy();
  });

  it('offers Retry when the gallery cannot be loaded', async () => {
    let up = false;
    renderAt('/gallery', () => (up ? json({ galleries: [entry(1)], total: 1 }) : Promise.reject(new TypeError('offline'))));
    expect(await screen.findByText('Could not reach the Pixel Prompt service. Check your connection and try again.')).toBeTruthy();
    up = true;
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(cards()).toEqual(['/gallery/g1']));
  });
});
