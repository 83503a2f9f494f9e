// The net under the whole app: an unexpected error shows a way back instead of a
// blank page, and is reported to the API (POST /log, best effort).

import { Component, type ComponentChildren, type ErrorInfo } from 'preact';

interface Props {
  children: ComponentChildren;
  report: (error: Error, componentStack: string | undefined) => void;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    this.props.report(error instanceof Error ? error : new Error(String(error)), info.componentStack);
  }

  override render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div class="view crash" role="alert">
        <h1>Something went wrong</h1>
        <p>This page hit an unexpected problem. It has been reported; reloading usually helps.</p>
        <p class="muted">Details: {error.message || error.name}</p>
        <p class="actions">
          <button type="button" class="button primary" onClick={() => window.location.reload()}>
            Reload the page
          </button>
          <a class="button secondary" href="/">
            Start over
          </a>
        </p>
      </div>
    );
  }
}
