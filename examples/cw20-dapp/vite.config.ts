import { defineConfig } from 'vite';

// The node's RPC sends no CORS headers, so the page talks to it through this server:
// `/rpc/...` (HTTP and the WebSocket) goes to $VEIL_NODE.
const node = process.env.VEIL_NODE ?? 'http://127.0.0.1:26657';
const proxy = {
  '/rpc': { target: node, changeOrigin: true, ws: true, rewrite: (path: string) => path.replace(/^\/rpc/, '') },
};

export default defineConfig({
  server: { host: '127.0.0.1', proxy },
  preview: { host: '127.0.0.1', proxy },
  build: {
    target: 'es2022',
    rollupOptions: {
      // @scure/base's `/* @__PURE__ */` comments sit where Rollup cannot use them: harmless.
      onwarn(warning, warn) {
        if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
      },
    },
  },
});
