// Entry point: read the build's settings, make the API client, mount the app under
// an error boundary so nothing unexpected leaves a blank page.

import { render } from 'preact';

import { createApiClient } from './api';
import { App, reportCrash } from './App';
import { ErrorBoundary } from './components/ErrorBoundary';
import { readConfig } from './config';
import './styles.css';

const config = readConfig(import.meta.env);
const api = createApiClient({ baseUrl: config.apiEndpoint });

if (config.cloudfrontDomain) {
  // Images come from there: open the connection while the user types.
  const hint = document.createElement('link');
  hint.rel = 'preconnect';
  // A bare domain is HTTPS (CloudFront); the local AWS gives one with its scheme.
  hint.href = /^https?:\/\//.test(config.cloudfrontDomain) ? config.cloudfrontDomain : `https://${config.cloudfrontDomain}`;
  document.head.append(hint);
}

const root = document.getElementById('app');
if (root) {
  render(
    <ErrorBoundary report={reportCrash(api, config.environment)}>
      <App api={api} config={config} />
    </ErrorBoundary>,
    root,
  );
}
