/** The demo's headings: escape codes only on a terminal, never when piped or under NO_COLOR. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heading } from '../../fixtures/style.js';

test('bold on a terminal; plain when piped, with NO_COLOR set, or on a dumb terminal', () => {
  assert.equal(heading('outcomes', { isTTY: true }, {}), '\x1b[1m== outcomes\x1b[0m');
  assert.equal(heading('outcomes', { isTTY: false }, {}), '== outcomes');
  assert.equal(heading('outcomes', {}, {}), '== outcomes', 'a pipe has no isTTY');
  assert.equal(heading('outcomes', { isTTY: true }, { NO_COLOR: '1' }), '== outcomes');
  assert.equal(heading('outcomes', { isTTY: true }, { NO_COLOR: '' }), '\x1b[1m== outcomes\x1b[0m', 'an empty NO_COLOR does not count');
  assert.equal(heading('outcomes', { isTTY: true }, { TERM: 'dumb' }), '== outcomes');
});
