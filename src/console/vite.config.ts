/**
 * The console's build: a small React app bundled into dist/console, which `serve` serves at `/`.
 * `npm run dev:console` proxies the service's routes to a running `npm start` on :3000.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

const root = fileURLToPath(new URL('.', import.meta.url))
const service = process.env.CONSOLE_DEV_TARGET ?? 'http://127.0.0.1:3000'

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    assetsDir: 'assets'
  },
  server: {
    proxy: Object.fromEntries(['/api', '/oauth', '/session', '/emulator', '/v1', '/healthz'].map((p) => [p, service]))
  }
})
