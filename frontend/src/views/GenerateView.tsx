// The generate page: prompt with a live counter, presets, "Enhance my prompt",
// Generate, and the tiles of the current generation.

import { useState } from 'preact/hooks';

import { describeError, PROMPT_MAX, type ApiClient } from '../api';
import type { DialogImage } from '../components/ImageDialog';
import { formatDuration, ImageTile } from '../components/ImageTile';
import { downloadAll, downloadName } from '../download';
import type { GenerationControls, Tile } from '../generation';
import {
  characterCount,
  DEFAULT_GUIDANCE,
  DEFAULT_STEPS,
  enhanceProblem,
  GUIDANCE_RANGE,
  guidanceProblem,
  PRESETS,
  promptProblem,
  STEPS_RANGE,
  stepsProblem,
} from '../validation';

interface Props {
  api: ApiClient;
  controls: GenerationControls;
  openImage: (image: DialogImage) => void;
}

function tileTitle(tile: Tile): string {
  return tile.model ?? `Model ${tile.index + 1}`;
}

function tileImage(tile: Tile): DialogImage | null {
  if (!tile.imageUrl) return null;
  return {
    url: tile.imageUrl,
    title: tileTitle(tile),
    caption: formatDuration(tile.duration),
    filename: downloadName(tile.imageUrl, tile.model, tile.index),
  };
}

function summary(tiles: Tile[], finished: boolean): string {
  const total = tiles.length;
  const made = tiles.filter((t) => t.status === 'completed').length;
  const failed = tiles.filter((t) => t.status === 'error').length;
  if (!finished) return `${made + failed} of ${total} models finished.`;
  if (made === total) return total === 1 ? 'Your image is ready.' : `All ${total} images are ready.`;
  if (made === 0) return 'No model could make an image. The reasons are on each tile.';
  return `${made} of ${total} models made an image; ${failed} failed.`;
}

export function GenerateView({ api, controls, openImage }: Props) {
  const { generation, start, retry } = controls;
  const [prompt, setPrompt] = useState(generation.request?.prompt ?? '');
  const [steps, setSteps] = useState(generation.request?.steps ?? DEFAULT_STEPS);
  const [guidance, setGuidance] = useState(generation.request?.guidance ?? DEFAULT_GUIDANCE);
  const [formError, setFormError] = useState<string | null>(null);
  const [enhancing, setEnhancing] = useState(false);
  const [enhanceNote, setEnhanceNote] = useState<string | null>(null);

  const count = characterCount(prompt);
  const tooLong = characterCount(prompt.trim()) > PROMPT_MAX;
  const busy = generation.phase === 'submitting';

  const submit = (event: Event) => {
    event.preventDefault();
    const problem = promptProblem(prompt) ?? stepsProblem(steps) ?? guidanceProblem(guidance);
    setFormError(problem);
    if (problem) return;
    setEnhanceNote(null);
    start({ prompt: prompt.trim(), steps, guidance });
  };

  const enhance = async () => {
    const problem = enhanceProblem(prompt);
    setFormError(problem);
    setEnhanceNote(null);
    if (problem) return;
    setEnhancing(true);
    try {
      const answer = await api.enhance(prompt.trim());
      if (answer.fallback) {
        setEnhanceNote('Prompt enhancement is not available right now; your prompt is unchanged.');
      } else {
        setPrompt(answer.enhanced);
        setEnhanceNote('Prompt enhanced. Edit it as you like before generating.');
      }
    } catch (error) {
      setFormError(describeError(error));
    } finally {
      setEnhancing(false);
    }
  };

  const activePreset = PRESETS.find((p) => p.steps === steps && p.guidance === guidance)?.id;
  const images = generation.tiles.map(tileImage).filter((i): i is DialogImage => i !== null);
  const finished = generation.phase === 'done' || generation.phase === 'timed-out' || generation.phase === 'failed';

  return (
    <section class="view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        Create images from a prompt
      </h1>
      <form class="card generate-form" onSubmit={submit} noValidate>
        <div class="field">
          <label for="prompt">Prompt</label>
          <textarea
            id="prompt"
            name="prompt"
            rows={4}
            value={prompt}
            placeholder="A lighthouse on a cliff at sunset, oil painting"
            aria-describedby="prompt-count form-error"
            aria-invalid={tooLong || undefined}
            onInput={(e) => setPrompt(e.currentTarget.value)}
          />
          <div class="field-meta">
            <span id="prompt-count" class={tooLong ? 'count over' : 'count'}>
              {count} / {PROMPT_MAX} characters
            </span>
            <button type="button" class="button secondary" onClick={enhance} disabled={enhancing}>
              {enhancing ? 'Enhancing…' : 'Enhance my prompt'}
            </button>
          </div>
          {enhanceNote && (
            <p class="note" role="status">
              {enhanceNote}
            </p>
          )}
        </div>

        <fieldset class="settings">
          <legend>Settings</legend>
          <div class="presets" role="group" aria-label="Presets">
            {PRESETS.map((preset) => (
              <button
                key={preset.id}
                type="button"
                class="chip"
                aria-pressed={activePreset === preset.id}
                title={preset.hint}
                onClick={() => {
                  setSteps(preset.steps);
                  setGuidance(preset.guidance);
                }}
              >
                {preset.label}
              </button>
            ))}
          </div>
          <div class="numbers">
            <div class="field">
              <label for="steps">Steps</label>
              <input
                id="steps"
                type="number"
                inputMode="numeric"
                min={STEPS_RANGE.min}
                max={STEPS_RANGE.max}
                step={1}
                value={steps}
                onInput={(e) => setSteps(e.currentTarget.valueAsNumber)}
              />
            </div>
            <div class="field">
              <label for="guidance">Guidance</label>
              <input
                id="guidance"
                type="number"
                inputMode="decimal"
                min={GUIDANCE_RANGE.min}
                max={GUIDANCE_RANGE.max}
                step={0.5}
                value={guidance}
                onInput={(e) => setGuidance(e.currentTarget.valueAsNumber)}
              />
            </div>
          </div>
        </fieldset>

        <div id="form-error" class="form-error" role="alert">
          {formError}
        </div>
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? 'Sending…' : 'Generate'}
        </button>
      </form>

      {generation.error && (
        <div class="card problem" role="alert">
          <p>{generation.error.message}</p>
          {generation.error.retryable && (
            <button type="button" class="button" onClick={retry}>
              Retry
            </button>
          )}
        </div>
      )}

      {generation.tiles.length > 0 && (
        <section class="results" aria-labelledby="results-title">
          <div class="results-head">
            <h2 id="results-title">Results</h2>
            {images.length > 0 && (
              <button type="button" class="button secondary" onClick={() => void downloadAll(images)}>
                {images.length === 1 ? 'Download image' : `Download all (${images.length})`}
              </button>
            )}
          </div>
          <p class="muted" aria-live="polite">
            {summary(generation.tiles, finished)}
            {generation.fake && ' These are placeholder images from the fake providers.'}
          </p>
          {generation.notice && (
            <p class="note" role="status">
              {generation.notice}
            </p>
          )}
          <ul class="tiles">
            {generation.tiles.map((tile) => {
              const image = tileImage(tile);
              return (
                <ImageTile
                  key={tile.index}
                  title={tileTitle(tile)}
                  status={tile.status}
                  imageUrl={tile.imageUrl}
                  detail={formatDuration(tile.duration)}
                  error={tile.error}
                  onOpen={image ? () => openImage(image) : undefined}
                />
              );
            })}
          </ul>
        </section>
      )}
    </section>
  );
}
