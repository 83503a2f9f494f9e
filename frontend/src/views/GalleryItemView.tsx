// One past generation: all its images. `GET /gallery/{id}` has no prompt, so the
// prompt, model names and times come from the job (`GET /status/{id}`: a gallery id is
// its job's id) when the job record still exists.

import { useEffect, useState } from 'preact/hooks';

import { describeError, type ApiClient, type Gallery, type Job } from '../api';
import type { DialogImage } from '../components/ImageDialog';
import { formatDuration, ImageTile } from '../components/ImageTile';
import { downloadAll, downloadName } from '../download';
import { onLinkClick } from '../router';
import { formatWhen } from './GalleryView';

interface Props {
  api: ApiClient;
  id: string;
  openImage: (image: DialogImage) => void;
}

interface Loaded {
  gallery: Gallery;
  job: Job | null;
}

interface Picture {
  key: string;
  title: string;
  image: DialogImage;
  detail: string | undefined;
}

/** The gallery's images, named and timed from the job where it has them. */
export function pictures({ gallery, job }: Loaded): Picture[] {
  return gallery.images.map((image, position) => {
    const result = job?.results.find((r) => r.imageUrl !== undefined && r.imageUrl.endsWith(image.key));
    const title = result?.model ?? image.model;
    const detail = formatDuration(result?.duration);
    return {
      key: image.key,
      title,
      detail,
      image: { url: image.url, title, caption: detail, filename: downloadName(image.url, title, position) },
    };
  });
}

export function GalleryItemView({ api, id, openImage }: Props) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    setLoaded(null);
    const job = api.status(id, controller.signal).catch(() => null);
    api
      .gallery(id, controller.signal)
      .then(async (gallery) => {
        const found = await job;
        if (!controller.signal.aborted) setLoaded({ gallery, job: found });
      })
      .catch((caught: unknown) => {
        if (!controller.signal.aborted) setError(describeError(caught));
      });
    return () => controller.abort();
  }, [api, id, attempt]);

  const items = loaded ? pictures(loaded) : [];
  const failed = loaded?.job?.results.filter((r) => r.status === 'error') ?? [];

  return (
    <section class="view" aria-labelledby="view-title">
      <p>
        <a href="/gallery" onClick={onLinkClick}>
          ← Back to the gallery
        </a>
      </p>
      <h1 id="view-title" tabIndex={-1}>
        {loaded?.job?.createdAt ? `Generation of ${formatWhen(loaded.job.createdAt)}` : 'Generation'}
      </h1>

      {!loaded && !error && <p class="muted">Loading…</p>}

      {error && (
        <div class="card problem" role="alert">
          <p>{error}</p>
          <button type="button" class="button" onClick={() => setAttempt((n) => n + 1)}>
            Retry
          </button>
        </div>
      )}

      {loaded && (
        <>
          <div class="card prompt-card">
            <h2>Prompt</h2>
            {loaded.job?.prompt ? (
              <p class="prompt-text">{loaded.job.prompt}</p>
            ) : (
              <p class="muted">The prompt of this generation is no longer stored.</p>
            )}
            {loaded.job?.parameters && (
              <p class="muted">
                Steps {loaded.job.parameters.steps ?? '?'} · guidance {loaded.job.parameters.guidance ?? '?'}
              </p>
            )}
          </div>

          <div class="results-head">
            <h2>
              {items.length} image{items.length === 1 ? '' : 's'}
            </h2>
            {items.length > 0 && (
              <button
                type="button"
                class="button secondary"
                onClick={() => void downloadAll(items.map((item) => item.image))}
              >
                {items.length === 1 ? 'Download image' : `Download all (${items.length})`}
              </button>
            )}
          </div>
          {items.length === 0 && <p>This generation has no images left (they expire after a while).</p>}
          <ul class="tiles">
            {items.map((item) => (
              <ImageTile
                key={item.key}
                title={item.title}
                status="completed"
                imageUrl={item.image.url}
                detail={item.detail}
                onOpen={() => openImage(item.image)}
              />
            ))}
            {failed.map((result) => (
              <ImageTile
                key={`failed-${result.index}`}
                title={result.model}
                status="error"
                error={result.error}
                detail={formatDuration(result.duration)}
              />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
