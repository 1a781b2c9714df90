/**
 * A process that runs `shadow-integrator drain --json` again and again, through `main` as the bin
 * runs it: for races for the lease between processes, at one Node start per process instead of one
 * per drain. Started by `startDrainLoop` (cli.ts) in the repository, with argv: the pause between
 * drains in ms, the least number of drains, then options that go before the command. Each drain is
 * one line on stdout, `{"code":…,"report":…}`. It stops after the drain under way once its stdin has
 * ended and it has made the least number of drains.
 */
import { systemTimers } from '../../src/context.js';
import { main } from '../../src/cli/main.js';

const [pause, least, ...args] = process.argv.slice(2);
let stdinEnded = false;
process.stdin.on('end', () => (stdinEnded = true)).resume();

for (let i = 0; !stdinEnded || i < Number(least); i++) {
  let stdout = '';
  const code = await main([...args, 'drain', '--json'], {
    cwd: process.cwd(),
    env: process.env,
    now: () => new Date(),
    timers: systemTimers,
    stdout: (text) => void (stdout += text),
    stderr: (text) => void process.stderr.write(text),
    stdin: () => Promise.resolve(''),
    isTTY: false,
    execPath: process.execPath,
    onStop: () => () => undefined,
  });
  process.stdout.write(`${JSON.stringify({ code, report: JSON.parse(stdout) as unknown })}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(pause)));
}
