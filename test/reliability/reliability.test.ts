/** The fast form of every reliability scenario, as part of npm test. */
import { test } from 'node:test';
import { scenarios, SkipScenario } from './scenarios.js';

for (const scenario of scenarios) {
  test(scenario.name, { timeout: 120_000 }, async (t) => {
    try {
      await scenario.run(false);
    } catch (e) {
      if (e instanceof SkipScenario) return t.skip(e.message);
      throw e;
    }
  });
}
