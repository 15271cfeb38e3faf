// vitest's globalSetup: one pgboot broker for all workers, from the
// PGBOOT_TESTDB_* variables; vitest takes the teardown the setup returns.
import pgboot from '../index.js';
export const setup = pgboot.globalSetup;
