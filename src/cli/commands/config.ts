/** `config`: the effective config, where each value came from, and what in it will not work here. */
import { mainRefWarning } from '../../config/repo.js';
import type { Warning } from '../../contract/types.generated.js';
import type { Call, Output } from '../command.js';
import { table, warningLines } from '../format.js';

export async function config(call: Call<{ json?: boolean }>): Promise<Output> {
  const l = await call.config();
  const warnings: Warning[] = [mainRefWarning(l.repo, l.config.remote, l.config.main_branch)].filter((w) => w !== null);
  return {
    json: { file: l.file, config: l.config, sources: l.sources, warnings },
    text: () => {
      const rows = Object.entries(l.sources).map(([key, source]) => [key, JSON.stringify(valueAt(l.config, key)), source]);
      return [`config file: ${l.file ?? '(none: defaults)'}`, table([['KEY', 'VALUE', 'FROM'], ...rows]), ...warningLines(warnings)].join('\n');
    },
  };
}

function valueAt(obj: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}
