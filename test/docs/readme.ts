/**
 * The shell blocks of README.md and how each is kept true, by the marker on the line before it:
 * - `<!-- readme-test: fixture -->`: readme.test.ts runs each command, verbatim, on a fixture repository;
 * - `<!-- readme-test: transcript -->`: `$ command` lines, run there too, with the output that follows them;
 * - `<!-- readme-test: ci-run -->`: each command is a line of .ci/run;
 * - `<!-- readme-test: ci-install -->`: .ci/install-check runs the block, verbatim, from a checkout.
 *
 * Run as a script (`node dist/test/docs/readme.js <kind>`), it prints the blocks of that kind: how
 * .ci/install-check gets the README's install commands.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

export const BLOCK_KINDS = ['fixture', 'transcript', 'ci-run', 'ci-install'] as const;
export type BlockKind = (typeof BLOCK_KINDS)[number];

export interface ReadmeBlock {
  /** The marker's kind, or null when the block has no marker. */
  kind: string | null;
  /** 1-based line of the opening fence. */
  line: number;
  text: string;
}

/** Every ```sh block of the markdown, with the kind named by the marker on the nearest non-empty line above it. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    let above = i - 1;
    while (above >= 0 && (lines[above] as string).trim() === '') above -= 1;
    const kind = /^<!-- readme-test: ([\w-]+) -->$/.exec(lines[above] ?? '')?.[1] ?? null;
    const end = lines.indexOf('```', i + 1);
    if (end === -1) throw new Error(`README.md:${i + 1}: a shell block that never ends`);
    blocks.push({ kind, line: i + 1, text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** The commands of a block: lines continued with a trailing backslash joined, blank and comment-only lines left out. */
export function commandsOf(text: string): string[] {
  const commands: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.endsWith('\\')) pending += `${line.slice(0, -1)} `;
    else {
      commands.push(`${pending}${line}`.trim());
      pending = '';
    }
  }
  return commands;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kind = process.argv[2];
  const blocks = readmeBlocks(readFileSync(README, 'utf8')).filter((b) => b.kind === kind);
  if (blocks.length === 0) {
    process.stderr.write(`no README block marked readme-test: ${kind ?? '(none given)'}\n`);
    process.exitCode = 2;
  } else process.stdout.write(`${blocks.map((b) => b.text).join('\n')}\n`);
}
