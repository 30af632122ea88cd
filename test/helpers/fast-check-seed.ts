/**
 * Every property test runs from one fixed seed, so a run is repeatable and CI sees what a
 * developer sees. `FC_SEED=<n> npm test` explores other inputs; a failure prints its seed and
 * path, which reproduce it (`FC_SEED` plus fast-check's `path`).
 */
import fc from 'fast-check';

const seed = Number(process.env.FC_SEED ?? 20261126);
fc.configureGlobal({ seed: Number.isSafeInteger(seed) ? seed : 20261126 });
