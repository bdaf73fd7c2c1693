import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Paths resolve from this file, not from the working directory, so the build gives the same
// result wherever `vite build --config console/vite.config.ts` is started.
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  // The gateway serves the page at /console and its files at /console/assets/.
  base: '/console/',
  publicDir: false,
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: here('../dist-console'),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // One page, two small libraries: a single chunk loads in one round trip.
    chunkSizeWarningLimit: 200,
  },
});
