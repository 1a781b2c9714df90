/**
 * The reports, the command line in process, the config and the holder's state over temporary
 * repositories: test files whose child processes all end within their test, run together in one
 * process (see light.ts); a group of their own so that it runs beside repositories.ts.
 */
import '../cli/cli.test.js';
import '../config/config.test.js';
import '../report/parity-cache.test.js';
import '../report/parity.test.js';
import '../report/status-glance.test.js';
import '../runtime/holder.test.js';
import '../runtime/lease-store.test.js';
