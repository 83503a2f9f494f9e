import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { describe, expect, it, vi } from 'vitest';

import { App } from '../src/App';
import { ErrorBoundary } from '../src/components/ErrorBoundary';
import { environmentBadge, readConfig } from '../src/config';
import { parseRoute } from '../src/router';
import { json, scriptedApi } from './helpers';

function Broken(): never {
  throw new Error('tile state was undefined');
}

describe('error boundary', () => {
  it('shows a way back instead of a blank page and reports the error to POST /log', async () => {
    const { api, calls } = scriptedApi(() => json({ success: true }));
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    render(
      <ErrorBoundary report={(error, stack) => void api.log({ level: 'error', message: error.message, metadata: { stack } })}>
        <Broken />
      </ErrorBoundary>,
    );
    expect(screen.getByRole('heading', { name: 'Something went wrong' })).toBeTruthy();
    expect(screen.getByText('Details: tile state was undefined')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Reload the page' })).toBeTruthy();
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0]?.path).toBe('/log');
    expect(calls[0]?.body).toMatchObject({ level: 'error', message: 'tile state was undefined' });
    quiet.mockRestore();
  });

  it('keeps the header and navigation when a view crashes', async () => {
    const { api, calls } = scriptedApi((call) =>
      call.path === '/gallery/list' ? json({ galleries: [null], total: 1 }) : json({ success: true }),
    );
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    window.history.replaceState(null, '', '/gallery');
    render(<App api={api} config={{ apiEndpoint: 'http://api.test', cloudfrontDomain: '', environment: 'dev' }} />);
    expect(await screen.findByRole('heading', { name: 'Something went wrong' })).toBeTruthy();
    expect(screen.getByRole('navigation', { name: 'Main' })).toBeTruthy();
    await waitFor(() => expect(calls.map((c) => c.path)).toContain('/log'));
    const log = calls.find((c) => c.path === '/log');
    expect(log?.body).toMatchObject({ level: 'error', metadata: { path: '/gallery', environment: 'dev' } });

    fireEvent.click(screen.getByRole('link', { name: 'Generate' }));
    expect(await screen.findByRole('heading', { name: 'Create images from a prompt' })).toBeTruthy();
    quiet.mockRestore();
  });
});

describe('routes and frame', () => {
  it.each([
    ['/', { name: 'generate' }],
    ['/gallery', { name: 'gallery', pageSize: undefined }],
    ['/gallery/', { name: 'gallery', pageSize: undefined }],
    ['/gallery/0f8f-ab', { name: 'gallery-item', id: '0f8f-ab' }],
    ['/nope', { name: 'not-found', path: '/nope' }],
  ])('%s', (path, route) => {
    expect(parseRoute(path)).toEqual(route);
  });

  it('reads a page size from ?limit= within the API range', () => {
    expect(parseRoute('/gallery', '?limit=2')).toEqual({ name: 'gallery', pageSize: 2 });
    expect(parseRoute('/gallery', '?limit=0')).toEqual({ name: 'gallery', pageSize: undefined });
    expect(parseRoute('/gallery', '?limit=101')).toEqual({ name: 'gallery', pageSize: undefined });
  });

  it('navigates between views with the History API, and back', async () => {
    const { api } = scriptedApi(() => json({ galleries: [], total: 0 }));
    render(<App api={api} config={{ apiEndpoint: 'http://api.test', cloudfrontDomain: '', environment: 'prod' }} />);
    const generateLink = screen.getByRole('link', { name: 'Generate' });
    expect(generateLink.getAttribute('aria-current')).toBe('page');

    fireEvent.click(screen.getByRole('link', { name: 'Gallery' }));
    expect(window.location.pathname).toBe('/gallery');
    expect(await screen.findByRole('heading', { name: 'Gallery' })).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByRole('heading', { name: 'Gallery' }));
    expect(document.title).toBe('Gallery · Pixel Prompt');

    window.history.back();
    await waitFor(() => expect(screen.getByRole('heading', { name: 'Create images from a prompt' })).toBeTruthy());
  });

  it('shows the environment badge anywhere but prod', () => {
    expect(environmentBadge('prod')).toBeNull();
    expect(environmentBadge('staging')).toBe('staging');
    expect(environmentBadge('')).toBe('local');
    const { api } = scriptedApi(() => json({}));
    render(<App api={api} config={{ apiEndpoint: 'http://api.test', cloudfrontDomain: '', environment: 'staging' }} />);
    expect(screen.getByTitle('Environment: staging').textContent).toBe('staging');
  });

  it('reads its settings from the build environment', () => {
    const env = { VITE_API_ENDPOINT: 'https://abc.execute-api.example/ ', VITE_ENVIRONMENT: 'dev', DEV: false } as unknown as ImportMetaEnv;
    expect(readConfig(env)).toEqual({ apiEndpoint: 'https://abc.execute-api.example', cloudfrontDomain: '', environment: 'dev' });
    expect(readConfig({ DEV: true } as unknown as ImportMetaEnv).apiEndpoint).toBe('http://127.0.0.1:3001');
    expect(readConfig({ DEV: false } as unknown as ImportMetaEnv).apiEndpoint).toBe('');
  });

  it('explains a build without an API address instead of failing', () => {
    const { api } = scriptedApi(() => json({}));
    render(<App api={api} config={{ apiEndpoint: '', cloudfrontDomain: '', environment: 'prod' }} />);
    expect(screen.getByRole('heading', { name: 'This build has no API address' })).toBeTruthy();
  });
});
