/**
 * Test files that work on real repositories in this process — fixtures, temporary repositories, the
 * CLI and the engine in process — and start no process that outlives a test: run together in one
 * process, like the pure ones (light.ts), to pay the Node start and the module loading once.
 */
import '../config/init.test.js';
import '../contract/json-output.test.js';
import '../fixtures/large.test.js';
import '../fixtures/repo.test.js';
import '../fixtures/snapshot.test.js';
import '../git/ancestry.test.js';
import '../git/graph.test.js';
import '../git/scratch.test.js';
import '../readiness/ingest.test.js';
import '../report/conflicts.test.js';
import '../report/stack.test.js';
import '../report/status-explain-outcomes.test.js';
import '../runtime/late-writer.test.js';
import '../runtime/retry.test.js';
import '../store/store.test.js';
