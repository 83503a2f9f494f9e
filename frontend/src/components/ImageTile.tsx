// One model's tile: waiting, working, its image (a button that opens the large view)
// with its time, or its error.

import { useState } from 'preact/hooks';

import type { ModelStatus } from '../api';

interface Props {
  title: string;
  status: ModelStatus;
  imageUrl?: string | undefined;
  /** e.g. "12.3 s" */
  detail?: string | undefined;
  error?: string | undefined;
  onOpen?: (() => void) | undefined;
}

export function formatDuration(seconds: number | undefined): string | undefined {
  if (seconds === undefined || !Number.isFinite(seconds)) return undefined;
  return `${seconds.toFixed(1)} s`;
}

export function ImageTile({ title, status, imageUrl, detail, error, onOpen }: Props) {
  const [broken, setBroken] = useState(false);

  if (status === 'completed' && imageUrl && !broken) {
    return (
      <li class="tile done" data-status="completed">
        <button type="button" class="tile-open" onClick={onOpen} aria-label={`Open the image by ${title}`}>
          <img src={imageUrl} alt={`Image by ${title}`} width={256} height={256} onError={() => setBroken(true)} />
        </button>
        <p class="tile-caption">
          <span class="tile-title">{title}</span>
          {detail && <span class="muted">{detail}</span>}
        </p>
      </li>
    );
  }

  if (status === 'error' || status === 'completed') {
    const message = status === 'error' ? error ?? 'This model failed.' : 'The image could not be loaded.';
    return (
      <li class="tile failed" data-status="error">
        <div class="tile-body" role="img" aria-label={`${title} failed`}>
          <span aria-hidden="true" class="tile-icon">!</span>
        </div>
        <p class="tile-caption">
          <span class="tile-title">{title}</span>
          {detail && <span class="muted">{detail}</span>}
        </p>
        <p class="tile-error">{message}</p>
      </li>
    );
  }

  return (
    <li class="tile waiting" data-status={status} aria-busy="true">
      <div class="tile-body">
        <span class="spinner" aria-hidden="true" />
        <span>{status === 'in_progress' ? 'Generating…' : 'Waiting…'}</span>
      </div>
      <p class="tile-caption">
        <span class="tile-title">{title}</span>
      </p>
    </li>
  );
}
