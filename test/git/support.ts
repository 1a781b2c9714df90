/** What the git module's tests share: the settings a handle is opened with. */
import { systemTimers } from '../../src/context.js';
import type { GitSettings } from '../../src/git/runner.js';
import { testEnv } from '../support/index.js';

/** The test environment (no user or system config), real timers, git's default timeout unless given. */
export const settings = (overrides: Partial<GitSettings> = {}): GitSettings => ({ env: testEnv(), timeoutSeconds: 120, timers: systemTimers, ...overrides });
