// The build-time settings `pixelctl deploy` writes into frontend/.env, read once.

export interface AppConfig {
  /** Base URL of the HTTP API, without a trailing slash. Empty when the build has none. */
  apiEndpoint: string;
  /** Domain serving the images (CloudFront); only used to warm the connection. */
  cloudfrontDomain: string;
  /** `dev`, `staging`, `prod`, ... Anything but `prod` shows a badge. */
  environment: string;
}

/** `pixelctl local`'s default address, used by `npm run dev` when `.env` names no API. */
export const LOCAL_API = 'http://127.0.0.1:3001';

export function readConfig(env: ImportMetaEnv): AppConfig {
  const configured = (env.VITE_API_ENDPOINT ?? '').trim().replace(/\/+$/, '');
  return {
    apiEndpoint: configured || (env.DEV ? LOCAL_API : ''),
    cloudfrontDomain: (env.VITE_CLOUDFRONT_DOMAIN ?? '').trim(),
    environment: (env.VITE_ENVIRONMENT ?? '').trim(),
  };
}

/** The badge text, or null in production. An unnamed environment is a local build. */
export function environmentBadge(environment: string): string | null {
  if (environment === 'prod') return null;
  return environment || 'local';
}
