import { defineConfig } from 'vite';

// The build writes dist/.vite/manifest.json and a source map per chunk, which is what perfadvisor's
// front-end analyzer reads. No manualChunks / codeSplitting here: the planted problem is that the Admin
// route and its chart library (recharts) are imported statically and so land in the entry chunk.
export default defineConfig({
  oxc: {
    jsx: { runtime: 'automatic' },
  },
  build: {
    manifest: true,
    sourcemap: true,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:18080' },
  },
});
