/** `config`: the effective config and where each value came from. */
import type { Call, Output } from '../command.js';
import { table } from '../format.js';

export async function config(call: Call<{ json?: boolean }>): Promise<Output> {
  const l = await call.config();
  return {
    json: { file: l.file, config: l.config, sources: l.sources },
    text: () => {
      const rows = Object.entries(l.sources).map(([key, source]) => [key, JSON.stringify(valueAt(l.config, key)), source]);
      return `config file: ${l.file ?? '(none: defaults)'}\n${table([['KEY', 'VALUE', 'FROM'], ...rows])}`;
    },
  };
}

function valueAt(obj: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}
