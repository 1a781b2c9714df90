/**
 * `npm run soak`: every reliability scenario in its long form (200 crash-injected drains, a minute
 * of 8-process lease contention), ending with `N scenarios, N passed, N failed`.
 */
import { scenarios, SkipScenario } from './scenarios.js';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const scenario of scenarios) {
  const started = Date.now();
  try {
    await scenario.run(true);
    passed += 1;
    console.log(`ok    ${scenario.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    if (e instanceof SkipScenario) {
      skipped += 1;
      console.log(`skip  ${scenario.name}: ${e.message}`);
      continue;
    }
    failed += 1;
    console.log(`FAIL  ${scenario.name}: ${(e as Error).message}`);
  }
}
console.log(`${scenarios.length} scenarios, ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 ? 1 : 0;
