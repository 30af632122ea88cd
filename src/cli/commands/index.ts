/**
 * The commands of `session-actors`, in the order `--help` lists them. A new command is a module
 * in this folder and one line here.
 */
import type { Command } from '../command.js';
import { dashboard } from './dashboard.js';
import { demo } from './demo.js';
import { replay } from './replay.js';
import { status } from './status.js';
import { viz } from './viz.js';

export const COMMANDS: readonly Command[] = [demo, replay, status, dashboard, viz] as readonly Command[];
