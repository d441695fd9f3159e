// Built to static files (dist/) that `atoma-gateway serve --web web/dist` serves.
import { defineConfig } from 'vite';

export default defineConfig({
	build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
});
