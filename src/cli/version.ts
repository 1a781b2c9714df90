/** The installed package's version and its bin: what `--version` prints and what git hooks start. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

export function cliVersion(): string {
  return (version ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
}

/** The bin (compiled: dist/src/cli/bin.js), beside this file. */
export const CLI_BIN = fileURLToPath(new URL('./bin.js', import.meta.url));
