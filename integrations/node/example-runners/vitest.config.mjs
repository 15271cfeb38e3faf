// vitest: one pgboot broker for all workers (pgboot-setup.mjs).
export default { test: { globals: true, include: ['runner.test.js'], globalSetup: ['./pgboot-setup.mjs'] } };
