#!/usr/bin/env node
/**
 * The executable: the only code that touches the real process. It hands the process's I/O to `main`
 * and sets the exit code; signals reach the runtime through `onStop` only while a command listens
 * (otherwise Ctrl-C ends the process as usual).
 */
import { systemTimers } from '../context.js';
import { main } from './main.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

process.exitCode = await main(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  now: () => new Date(),
  timers: systemTimers,
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  stdin: readStdin,
  isTTY: Boolean(process.stdout.isTTY),
  execPath: process.execPath,
  onStop: (listener) => {
    process.once('SIGINT', listener);
    process.once('SIGTERM', listener);
    return () => {
      process.off('SIGINT', listener);
      process.off('SIGTERM', listener);
    };
  },
});
