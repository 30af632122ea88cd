/** The dashboard's public surface: the server, its two sources, and the shapes they exchange. */
export { startDashboard } from './server.js';
export type { Dashboard, DashboardOptions } from './server.js';
export { runtimeSource } from './runtime-source.js';
export type { DescribableRuntime, RuntimeSourceOptions } from './runtime-source.js';
export { replaySource } from './replay-source.js';
export type { ReplaySourceOptions } from './replay-source.js';
export { rowMatcher } from './source.js';
export type {
  DashboardSource,
  DetailDelivery,
  DetailTransition,
  ReplayAccess,
  ReplayDivergence,
  ReplayRecord,
  SeekKind,
  SessionDetail,
  SessionPage,
  SessionQuery,
  SessionRow,
  SessionView,
} from './source.js';
