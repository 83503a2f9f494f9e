// The page frame (header, navigation, environment badge) and the route's view. The
// current generation and the open image live here, so they outlast a view change.

import { useEffect, useRef, useState } from 'preact/hooks';

import type { ApiClient } from './api';
import { environmentBadge, type AppConfig } from './config';
import { ErrorBoundary } from './components/ErrorBoundary';
import { ImageDialog, type DialogImage } from './components/ImageDialog';
import { downloadImage } from './download';
import { useGeneration } from './generation';
import type { PollOptions } from './poller';
import { onLinkClick, useRoute, type Route } from './router';
import { GalleryItemView } from './views/GalleryItemView';
import { GalleryView } from './views/GalleryView';
import { GenerateView } from './views/GenerateView';

interface Props {
  api: ApiClient;
  config: AppConfig;
  /** Tests shorten the poller's timings. */
  pollOptions?: Partial<PollOptions>;
}

function titleOf(route: Route): string {
  switch (route.name) {
    case 'generate':
      return 'Pixel Prompt: create images from a prompt';
    case 'gallery':
      return 'Gallery · Pixel Prompt';
    case 'gallery-item':
      return 'Generation · Pixel Prompt';
    case 'not-found':
      return 'Page not found · Pixel Prompt';
  }
}

export function reportCrash(api: ApiClient, environment: string) {
  return (error: Error, componentStack: string | undefined) =>
    void api.log({
      level: 'error',
      message: error.message || error.name,
      ...(error.stack ? { stack: error.stack } : {}),
      metadata: { componentStack, path: window.location.pathname, environment, userAgent: navigator.userAgent },
    });
}

export function App({ api, config, pollOptions }: Props) {
  const route = useRoute();
  const controls = useGeneration(api, pollOptions);
  const [dialog, setDialog] = useState<DialogImage | null>(null);
  const firstRender = useRef(true);
  const badge = environmentBadge(config.environment);

  useEffect(() => {
    document.title = titleOf(route);
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    // Tell screen readers and keyboard users the page changed.
    document.getElementById('view-title')?.focus();
  }, [route]);

  let view;
  if (!config.apiEndpoint) {
    view = (
      <section class="view" aria-labelledby="view-title">
        <h1 id="view-title">This build has no API address</h1>
        <p>
          Set <code>VITE_API_ENDPOINT</code> in <code>frontend/.env</code> (<code>pixelctl deploy</code> writes
          it) and build again.
        </p>
      </section>
    );
  } else if (route.name === 'generate') {
    view = <GenerateView api={api} controls={controls} openImage={setDialog} />;
  } else if (route.name === 'gallery') {
    view = <GalleryView api={api} pageSize={route.pageSize} />;
  } else if (route.name === 'gallery-item') {
    view = <GalleryItemView api={api} id={route.id} openImage={setDialog} />;
  } else {
    view = (
      <section class="view" aria-labelledby="view-title">
        <h1 id="view-title" tabIndex={-1}>
          Page not found
        </h1>
        <p>
          There is nothing at <code>{route.path}</code>.{' '}
          <a href="/" onClick={onLinkClick}>
            Create images
          </a>{' '}
          or{' '}
          <a href="/gallery" onClick={onLinkClick}>
            browse the gallery
          </a>
          .
        </p>
      </section>
    );
  }

  const section = route.name === 'generate' ? 'generate' : route.name.startsWith('gallery') ? 'gallery' : null;

  return (
    <>
      <div id="app-shell">
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="site-header">
          <div class="brand-row">
            <a class="brand" href="/" onClick={onLinkClick}>
              Pixel Prompt
            </a>
            {badge && (
              <span class="env-badge" title={`Environment: ${badge}`}>
                {badge}
              </span>
            )}
          </div>
          <nav aria-label="Main">
            <a href="/" onClick={onLinkClick} aria-current={section === 'generate' ? 'page' : undefined}>
              Generate
            </a>
            <a href="/gallery" onClick={onLinkClick} aria-current={section === 'gallery' ? 'page' : undefined}>
              Gallery
            </a>
          </nav>
        </header>
        <main id="main">
          <ErrorBoundary key={window.location.pathname} report={reportCrash(api, config.environment)}>
            {view}
          </ErrorBoundary>
        </main>
      </div>
      {dialog && (
        <ImageDialog
          image={dialog}
          onClose={() => setDialog(null)}
          onDownload={(image) => void downloadImage(image.url, image.filename)}
        />
      )}
    </>
  );
}
