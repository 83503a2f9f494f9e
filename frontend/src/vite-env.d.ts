/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_API_ENDPOINT?: string;
  readonly VITE_CLOUDFRONT_DOMAIN?: string;
  readonly VITE_ENVIRONMENT?: string;
}
