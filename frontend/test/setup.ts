// Each test starts on a clean page at `/`.

import { cleanup } from '@testing-library/preact';
import { afterEach, beforeEach } from 'vitest';

beforeEach(() => {
  window.history.replaceState(null, '', '/');
});

afterEach(() => {
  cleanup();
});
