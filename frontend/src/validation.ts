// The checks the API would make, done before sending so the user hears at once.

import { ENHANCE_MAX, PROMPT_MAX } from './api';

/** Characters as the API counts them (Unicode code points, not UTF-16 units). */
export function characterCount(text: string): number {
  return Array.from(text).length;
}

export function promptProblem(prompt: string, max = PROMPT_MAX): string | null {
  const length = characterCount(prompt.trim());
  if (length === 0) return 'Enter a prompt: describe the image you want.';
  if (length > max) {
    return `Your prompt is ${length} characters; the limit is ${max}. Remove ${length - max} to continue.`;
  }
  return null;
}

export function enhanceProblem(prompt: string): string | null {
  const length = characterCount(prompt.trim());
  if (length === 0) return 'Enter a prompt first, then enhance it.';
  if (length > ENHANCE_MAX) return `Enhance works on prompts up to ${ENHANCE_MAX} characters; yours has ${length}.`;
  return null;
}

export const STEPS_RANGE = { min: 1, max: 100 } as const;
export const GUIDANCE_RANGE = { min: 1, max: 20 } as const;

export function stepsProblem(steps: number): string | null {
  return Number.isInteger(steps) && steps >= STEPS_RANGE.min && steps <= STEPS_RANGE.max
    ? null
    : `Steps must be a whole number from ${STEPS_RANGE.min} to ${STEPS_RANGE.max}.`;
}

export function guidanceProblem(guidance: number): string | null {
  return Number.isFinite(guidance) && guidance >= GUIDANCE_RANGE.min && guidance <= GUIDANCE_RANGE.max
    ? null
    : `Guidance must be a number from ${GUIDANCE_RANGE.min} to ${GUIDANCE_RANGE.max}.`;
}

export interface Preset {
  id: 'fast' | 'quality' | 'creative';
  label: string;
  hint: string;
  steps: number;
  guidance: number;
}

export const PRESETS: readonly Preset[] = [
  { id: 'fast', label: 'Fast', hint: 'fewer steps, quicker results', steps: 15, guidance: 7 },
  { id: 'quality', label: 'Quality', hint: 'more steps, finer detail', steps: 50, guidance: 8 },
  { id: 'creative', label: 'Creative', hint: 'low guidance, looser reading of the prompt', steps: 30, guidance: 3.5 },
];

/** The API's defaults. */
export const DEFAULT_STEPS = 25;
export const DEFAULT_GUIDANCE = 7;
