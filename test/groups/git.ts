/**
 * The git layer's test files on real repositories: each process they start (a long-lived batch, a
 * hung merge driver, a killed git) ends within its test, so they run together in one process (see
 * light.ts) and pay the Node start and the module loading once.
 */
import '../git/attributes.test.js';
import '../git/batch.test.js';
import '../git/guard.test.js';
import '../git/history.test.js';
import '../git/merge.test.js';
import '../git/objects.test.js';
import '../git/runner.test.js';
import '../git/version.test.js';
