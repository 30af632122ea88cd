import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
export default defineConfig({
  resolve: { alias: [{ find: /^.*\/machines\/session\.machine\.js$/, replacement: fileURLToPath(new URL('./session.machine.ts', import.meta.url)) }] },
  test: { include: ['test/machines/**/*.test.ts'], pool: 'forks' },
});
