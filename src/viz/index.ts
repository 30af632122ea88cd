export { toMermaid } from './mermaid.js';
export { toJSON } from './json.js';
export type { MachineJSON, StateJSON, TransitionJSON } from './json.js';
export { describeTransitions } from './transitions.js';
export type { TransitionInfo, TransitionKind } from './transitions.js';
export { toSVG, renderSVG } from './svg.js';
export { layoutStatechart } from './layout.js';
export type { StatechartLayout, PlacedState, PlacedEdge, StateRow, InitialMarker, Box } from './layout.js';
