import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// Served at /console/ by the local API server (devstack/console.py) and by the deployed bucket.
// No inline script or style ends up in index.html: the Content-Security-Policy forbids them.
export default defineConfig({
  base: "/console/",
  plugins: [vue()],
  build: {
    outDir: "dist",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
    modulePreload: { polyfill: false },
  },
  server: { proxy: { "/v1": "http://127.0.0.1:8000", "/openapi.json": "http://127.0.0.1:8000" } },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
} as any);
