/**
 * Test files of pure logic (no child process, no repository, nothing left running) run together in
 * one process: each alone would pay a Node start and the loading of the same modules again, which
 * is most of what they cost. scripts/test.mjs runs this file instead of the ones it imports; a test
 * file not imported here runs in a process of its own.
 */
import '../cli/demo-style.test.js';
import '../cli/emit-help.test.js';
import '../cli/errors.test.js';
import '../contract/derived.test.js';
import '../contract/schemas.test.js';
import '../contract/timestamp.test.js';
import '../docs/contract.test.js';
import '../git/parse.test.js';
import '../layering/layering.test.js';
import '../queue/queue.test.js';
import '../readiness/hot-path.test.js';
import '../readiness/keyset.test.js';
import '../readiness/parse.test.js';
import '../readiness/projection.test.js';
import '../report/parity-history.test.js';
import '../runtime/lease.test.js';
import '../runtime/plan.test.js';
import '../runtime/stack.test.js';
import '../store/roundtrip.test.js';
import '../support/support.test.js';
