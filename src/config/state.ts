/** The mode gate and the state directory, shared by every command that touches state. */
import { mkdirSync } from 'node:fs';
import { errors } from '../contract/errors.js';
import { statePaths, type StatePaths } from '../store/paths.js';
import { CONFIG_FILE, type LoadedConfig } from './config.js';

export interface ModeOff {
  status: 'mode_off';
  message: string;
}

/** With `mode: off` (the default) watch and drain only explain how to opt in. */
export function modeOff(loaded: LoadedConfig): ModeOff | null {
  if (loaded.config.mode === 'shadow') return null;
  const where = loaded.file ?? `${loaded.root}/${CONFIG_FILE}`;
  return {
    status: 'mode_off',
    message:
      `shadow mode is off (${loaded.file ? `mode: off in ${where}` : `no ${CONFIG_FILE}`}). ` +
      `Opt in with \`shadow-integrator init\` (writes ${where} with mode: shadow) or set mode: shadow there. ` +
      'Shadow mode records what the integrator would do and never writes canonical main.',
  };
}

export function openStateDir(loaded: LoadedConfig): StatePaths {
  const paths = statePaths(loaded.config.state_dir);
  try {
    mkdirSync(paths.dir, { recursive: true });
  } catch (e) {
    throw errors.stateDirUnusable(paths.dir, (e as Error).message);
  }
  return paths;
}
