// Build config: the console is served by `pingan serve`/`pingan demo` from web/dist on the
// same origin, so assets use absolute paths and the API is reached with relative URLs.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        // Map and chart libraries change rarely; separate chunks keep app rebuilds cache-friendly.
        manualChunks: {
          maplibre: ['maplibre-gl'],
          echarts: ['echarts/core', 'echarts/charts', 'echarts/components', 'echarts/renderers'],
        },
      },
    },
  },
  server: {
    // `PINGAN_URL=http://127.0.0.1:8080 npm run dev` proxies the API to a running pingan.
    proxy: { '/api': process.env.PINGAN_URL ?? 'http://127.0.0.1:8080', '/healthz': process.env.PINGAN_URL ?? 'http://127.0.0.1:8080' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
