import { fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';

import type { Job } from '../src/api';
import { App } from '../src/App';
import { deferred, job, json, result, scriptedApi, type Call, type Handler } from './helpers';

const config = { apiEndpoint: 'http://api.test', cloudfrontDomain: '', environment: 'dev' };
const fast = { intervalMs: 1 };

function renderApp(handler: Handler) {
  const scripted = scriptedApi(handler);
  render(<App api={scripted.api} config={config} pollOptions={fast} />);
  return scripted;
}

function typePrompt(text: string) {
  fireEvent.input(screen.getByLabelText('Prompt'), { target: { value: text } });
}

function clickGenerate() {
  fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
}

function tiles() {
  return within(screen.getByRole('region', { name: 'Results' })).getAllByRole('listitem');
}

const generated = (totalModels: number) => json({ jobId: 'job-1', message: 'Job created', totalModels });

describe('prompt box', () => {
  it('counts characters as the user types and flags a prompt over 1000', () => {
    renderApp(() => json({}));
    expect(screen.getByText('0 / 1000 characters')).toBeTruthy();
    typePrompt('a red fox 🦊');
    expect(screen.getByText('11 / 1000 characters')).toBeTruthy();
    typePrompt('x'.repeat(1001));
    expect(screen.getByText('1001 / 1000 characters').className).toContain('over');
    expect(screen.getByLabelText('Prompt').getAttribute('aria-invalid')).toBe('true');
  });

  it('refuses an empty or too long prompt before sending anything', () => {
    const { calls } = renderApp(() => generated(3));
    clickGenerate();
    expect(screen.getByRole('alert').textContent).toBe('Enter a prompt: describe the image you want.');
    typePrompt('   ');
    clickGenerate();
    expect(screen.getByRole('alert').textContent).toBe('Enter a prompt: describe the image you want.');
    typePrompt('y'.repeat(1005));
    clickGenerate();
    expect(screen.getByRole('alert').textContent).toBe('Your prompt is 1005 characters; the limit is 1000. Remove 5 to continue.');
    expect(calls).toHaveLength(0);
  });

  it('sends the preset and the trimmed prompt', async () => {
    const { calls } = renderApp((call) => (call.path === '/generate' ? generated(1) : json(job([result(0, 'A', 'completed', { imageUrl: 'http://img.test/a.png' })]))));
    typePrompt('  a lighthouse  ');
    fireEvent.click(screen.getByRole('button', { name: 'Quality' }));
    expect(screen.getByRole('button', { name: 'Quality' }).getAttribute('aria-pressed')).toBe('true');
    expect((screen.getByLabelText('Steps') as HTMLInputElement).value).toBe('50');
    clickGenerate();
    await waitFor(() => expect(calls.length).toBeGreaterThan(0));
    expect(calls[0]?.body).toEqual({ prompt: 'a lighthouse', steps: 50, guidance: 8 });
  });

  it('replaces the prompt with the enhanced one', async () => {
    const { calls } = renderApp(() => json({ original: 'a fox', enhanced: 'a fox, golden hour, detailed fur' }));
    typePrompt('a fox');
    fireEvent.click(screen.getByRole('button', { name: 'Enhance my prompt' }));
    await waitFor(() => expect((screen.getByLabelText('Prompt') as HTMLTextAreaElement).value).toBe('a fox, golden hour, detailed fur'));
    expect(calls[0]?.path).toBe('/enhance');
    expect(calls[0]?.body).toEqual({ prompt: 'a fox' });
    expect(screen.getByText('32 / 1000 characters')).toBeTruthy();
  });
});

describe('generate flow', () => {
  it('shows one tile per model at once and fills each in as its model finishes', async () => {
    const answers: Array<ReturnType<typeof deferred<Job>>> = [deferred(), deferred(), deferred()];
    let statusCalls = 0;
    const { calls } = renderApp(async (call: Call) => {
      if (call.path === '/generate') return generated(4);
      const answer = answers[Math.min(statusCalls++, answers.length - 1)];
      return json(await answer!.promise);
    });
    typePrompt('a red fox');
    clickGenerate();

    // Four tiles from totalModels, before any status answer arrived.
    await waitFor(() => expect(tiles()).toHaveLength(4));
    expect(tiles().map((t) => t.textContent)).toEqual([
      'Waiting…Model 1',
      'Waiting…Model 2',
      'Waiting…Model 3',
      'Waiting…Model 4',
    ]);
    expect(calls.filter((c) => c.path === '/status/job-1')).toHaveLength(1);

    answers[0]!.resolve(
      job([
        result(0, 'DALL-E 3', 'completed', { duration: 12.345, imageUrl: 'http://img.test/00-dall-e-3.png' }),
        result(1, 'Gemini', 'in_progress'),
        result(2, 'Nova Canvas', 'error', { duration: 0.8, error: 'provider refused the prompt: blocked by our content filters.' }),
        result(3, 'Flux', 'pending'),
      ]),
    );
    await waitFor(() => expect(screen.getByRole('img', { name: 'Image by DALL-E 3' })).toBeTruthy());
    expect(screen.getByText('2 of 4 models finished.')).toBeTruthy();
    expect(within(tiles()[0]!).getByText('12.3 s')).toBeTruthy();
    expect(within(tiles()[1]!).getByText('Generating…')).toBeTruthy();
    expect(within(tiles()[2]!).getByText('provider refused the prompt: blocked by our content filters.')).toBeTruthy();
    expect(within(tiles()[2]!).getByText('0.8 s')).toBeTruthy();
    expect(within(tiles()[3]!).getByText('Waiting…')).toBeTruthy();

    answers[1]!.resolve(
      job([
        result(0, 'DALL-E 3', 'completed', { duration: 12.345, imageUrl: 'http://img.test/00-dall-e-3.png' }),
        result(1, 'Gemini', 'completed', { duration: 3.2, imageUrl: 'http://img.test/01-gemini.png' }),
        result(2, 'Nova Canvas', 'error', { duration: 0.8, error: 'provider refused the prompt: blocked by our content filters.' }),
        result(3, 'Flux', 'completed', { duration: 5, imageUrl: 'http://img.test/03-flux.webp' }),
      ]),
    );
    await waitFor(() => expect(screen.getByText('3 of 4 models made an image; 1 failed.')).toBeTruthy());
    const images = screen.getAllByRole('img').filter((i) => i.tagName === 'IMG');
    expect(images.map((i) => i.getAttribute('src'))).toEqual([
      'http://img.test/00-dall-e-3.png',
      'http://img.test/01-gemini.png',
      'http://img.test/03-flux.webp',
    ]);
    expect(screen.getByRole('button', { name: 'Download all (3)' })).toBeTruthy();
  });

  it("shows a blocked prompt's message from the API, not its code", async () => {
    renderApp(() => json({ error: 'INAPPROPRIATE_CONTENT', message: 'Prompt contains content that is not allowed' }, 400));
    typePrompt('something');
    clickGenerate();
    const alert = await screen.findByText('Prompt contains content that is not allowed');
    expect(alert.closest('[role="alert"]')).toBeTruthy();
    expect(screen.queryByText(/INAPPROPRIATE_CONTENT/)).toBeNull();
    expect(screen.queryByRole('button', { name: 'Retry' })).toBeNull();
  });

  it('shows a 429 with when to try again', async () => {
    renderApp(() =>
      json({ error: 'RATE_LIMIT_EXCEEDED', message: 'Too many requests from this IP address today', retryAfter: 5400 }, 429, {
        'Retry-After': '5400',
      }),
    );
    typePrompt('a fox');
    clickGenerate();
    expect(await screen.findByText(/^Too many requests from this IP address today\. You can try again in 1 hour 30 minutes \(at .+\)\.$/)).toBeTruthy();
  });

  it('offers Retry after a network failure, and Retry sends the same request again', async () => {
    let online = false;
    const { calls } = renderApp((call) => {
      if (!online) return Promise.reject(new TypeError('Failed to fetch'));
      return call.path === '/generate'
        ? generated(1)
        : json(job([result(0, 'DALL-E 3', 'completed', { imageUrl: 'http://img.test/a.png', duration: 2 })]));
    });
    typePrompt('a fox');
    clickGenerate();
    expect(await screen.findByText('Could not reach the Pixel Prompt service. Check your connection and try again.')).toBeTruthy();
    online = true;
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(screen.getByText('Your image is ready.')).toBeTruthy());
    expect(calls.filter((c) => c.path === '/generate').map((c) => c.body)).toEqual([
      { prompt: 'a fox', steps: 25, guidance: 7 },
      { prompt: 'a fox', steps: 25, guidance: 7 },
    ]);
  });

  it('opens a tile in a dialog that Esc closes, giving focus back to the tile', async () => {
    renderApp((call) =>
      call.path === '/generate'
        ? generated(1)
        : json(job([result(0, 'DALL-E 3', 'completed', { imageUrl: 'http://img.test/00-dall-e-3.png', duration: 1.5 })])),
    );
    typePrompt('a fox');
    clickGenerate();
    const open = await screen.findByRole('button', { name: 'Open the image by DALL-E 3' });
    open.focus();
    fireEvent.click(open);

    const dialog = screen.getByRole('dialog', { name: 'DALL-E 3' });
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Close' }));
    expect(document.getElementById('app-shell')?.hasAttribute('inert')).toBe(true);

    // Tab stays inside: from the last button back to the first.
    within(dialog).getByRole('button', { name: 'Download' }).focus();
    fireEvent.keyDown(dialog, { key: 'Tab' });
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Close' }));

    fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(document.activeElement).toBe(open);
    expect(document.getElementById('app-shell')?.hasAttribute('inert')).toBe(false);
  });
});
