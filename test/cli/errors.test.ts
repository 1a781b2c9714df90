/**
 * The error catalogue: every code has one exit code and one kind, each factory produces its own code
 * (no free text under a generic code), file-system failures name the path and what to do, and an
 * internal error says it is a bug.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ERROR_CODES, errors, fromErrno, isErrnoError, isShadowError, ShadowError } from '../../src/contract/errors.js';

const errno = (code: string, syscall: string, path: string) => Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path, errno: -1 });

describe('the error catalogue', () => {
  test('usage and configuration errors exit 2, runtime failures 1, the parity gate 3', () => {
    assert.equal(errors.optionInvalid('--grace', 'soon', 'must be a number').exitCode, 2);
    assert.equal(errors.argumentInvalid('slug', 'A', 'must match').exitCode, 2);
    assert.equal(errors.unknownOption("unknown option '--x'").exitCode, 2);
    assert.equal(errors.configInvalid('f', [{ key: 'k', message: 'm' }]).exitCode, 2);
    assert.equal(errors.configModeRefused('f', 'cutover').exitCode, 2);
    assert.equal(errors.configExists('f').exitCode, 2);
    assert.equal(errors.eventInvalid(['x']).exitCode, 2);
    assert.equal(errors.hooksPathUnusable('/dev/null', '/r/.git/config', 'is /dev/null').exitCode, 2);
    assert.equal(errors.leaseLost(1, 'why').exitCode, 1);
    assert.equal(errors.stateFileCorrupt('f', 'p').exitCode, 1);
    assert.equal(errors.slugUnknown('s').exitCode, 1);
    assert.equal(errors.internal('testing', new TypeError('x')).exitCode, 1);
    assert.equal(errors.parityBelowThreshold(0.5, 0.9, 1).exitCode, 3);
  });

  test('a config problem names its key, line and column', () => {
    const e = errors.configInvalid('/r/.shadow-integrator.yml', [
      { key: 'engine', line: 4, message: 'must be one of "merge-tree", "worktree"' },
      { key: '(yaml)', line: 2, column: 7, message: 'bad indentation' },
    ]);
    assert.equal(e.code, 'E_CONFIG_INVALID');
    assert.match(e.message, /2 config problems/);
    assert.match(e.message, /line 4: engine: must be one of "merge-tree", "worktree"/);
    assert.match(e.message, /line 2:7: \(yaml\): bad indentation/);
  });

  test('errors are ShadowErrors with a stable code and machine details', () => {
    const e = errors.leaseLost(7, 'taken over');
    assert.ok(e instanceof ShadowError);
    assert.ok(isShadowError(e));
    assert.ok(!isShadowError(new Error('x')));
    assert.deepEqual(e.toJSON(), { code: 'E_LEASE_LOST', message: e.message, details: { epoch: 7, why: 'taken over' } });
    assert.match(errors.stateWriteFailed('/s/queue.json', Object.assign(new Error('x'), { code: 'ENOSPC' })).message, /no space left on the device; the previous version of the file is intact/);
  });

  test('an option value error names the option, the value and what is allowed', () => {
    const e = errors.optionInvalid('--outcome', 'maybe', 'allowed values are a, b', ['a', 'b']);
    assert.equal(e.code, 'E_OPTION_INVALID');
    assert.equal(e.message, '--outcome "maybe" is not valid: allowed values are a, b');
    assert.deepEqual(e.details, { option: '--outcome', value: 'maybe', expected: 'allowed values are a, b', allowed: ['a', 'b'] });
  });

  test('every factory makes its own code, and every code is made by a factory', () => {
    const made = new Map<string, string>();
    const samples: Record<keyof typeof errors, () => ShadowError> = {
      unknownCommand: () => errors.unknownCommand('m'),
      unknownOption: () => errors.unknownOption('m'),
      missingArgument: () => errors.missingArgument('m'),
      missingOptionValue: () => errors.missingOptionValue('m'),
      tooManyArguments: () => errors.tooManyArguments('m'),
      conflictingOptions: () => errors.conflictingOptions('m'),
      optionInvalid: () => errors.optionInvalid('--o', 'v', 'e'),
      argumentInvalid: () => errors.argumentInvalid('a', 'v', 'e'),
      eventInvalid: () => errors.eventInvalid(['p']),
      notARepository: () => errors.notARepository('/d', 'm'),
      configInvalid: () => errors.configInvalid('f', []),
      configModeRefused: () => errors.configModeRefused('f', 'cutover'),
      configExists: () => errors.configExists('f'),
      originIsWorkingRepository: () => errors.originIsWorkingRepository('o'),
      hooksPathShared: () => errors.hooksPathShared('f', 'v', 'l', 's'),
      hooksPathUnusable: () => errors.hooksPathUnusable('d', 'f', 'w'),
      hookChainOccupied: () => errors.hookChainOccupied('p', 'c'),
      remoteUnknown: () => errors.remoteUnknown(null, []),
      mainBranchUnknown: () => errors.mainBranchUnknown('origin', null, []),
      stateFileCorrupt: () => errors.stateFileCorrupt('f', 'p'),
      stateDirUnusable: () => errors.stateDirUnusable('d', 'c'),
      stateReadFailed: () => errors.stateReadFailed('f', errno('EACCES', 'open', 'f')),
      stateNotRegular: () => errors.stateNotRegular('/s/readiness.jsonl', 'a FIFO'),
      stateWriteFailed: () => errors.stateWriteFailed('f', errno('ENOSPC', 'write', 'f')),
      mutexCompromised: () => errors.mutexCompromised('f', 'c'),
      mutexTimeout: () => errors.mutexTimeout('f'),
      leaseLost: () => errors.leaseLost(1, 'w'),
      gitRefused: () => errors.gitRefused('push'),
      gitFailed: () => errors.gitFailed(['log'], 128, 'fatal'),
      gitTooOld: () => errors.gitTooOld('2.30.0'),
      gitTimedOut: () => errors.gitTimedOut(['merge-tree'], 120),
      cancelled: () => errors.cancelled('git merge-tree'),
      slugUnknown: () => errors.slugUnknown('s'),
      mainRefMissing: () => errors.mainRefMissing('refs/remotes/origin/main', 'origin'),
      parityBelowThreshold: () => errors.parityBelowThreshold(0.5, 0.9, 0),
      internal: () => errors.internal('testing', new TypeError('t')),
    };
    for (const [factory, make] of Object.entries(samples)) {
      const code = make().code;
      assert.ok(!made.has(code), `${factory} makes ${code}, as ${made.get(code) ?? ''} does`);
      made.set(code, factory);
    }
    assert.deepEqual([...made.keys()].sort(), [...ERROR_CODES].sort());
  });

  test('an internal error says it is a bug and how to report it; the cause is kept for --log-level debug', () => {
    const cause = new TypeError("Cannot read properties of undefined (reading 'sha')");
    const e = errors.internal('reading the queue', cause);
    assert.equal(e.code, 'E_INTERNAL');
    assert.equal(e.kind, 'internal');
    assert.match(e.message, /^internal error while reading the queue: TypeError: Cannot read properties of undefined \(reading 'sha'\)\. This is a bug in shadow-integrator/);
    assert.deepEqual(e.details, { what: 'reading the queue', error: "TypeError: Cannot read properties of undefined (reading 'sha')" }, 'no stack in the details');
    assert.match(e.message, /Please report it .* --log-level debug/);
    assert.equal(e.cause, cause);
    assert.doesNotMatch(e.message, /\n\s+at /, 'no stack in the message');
  });

  test('a file-system failure becomes a named read or write error with its path and what to do', () => {
    const cases: [ReturnType<typeof errno>, string, RegExp][] = [
      [errno('EACCES', 'open', '/s/queue.json'), 'E_STATE_READ', /^cannot read \/s\/queue\.json: EACCES permission denied; give the user running shadow-integrator read access/],
      [errno('EISDIR', 'read', '/s/readiness.jsonl'), 'E_STATE_READ', /^cannot read \/s\/readiness\.jsonl: EISDIR it is a directory, where a file belongs; move the directory away/],
      [errno('ENOENT', 'stat', '/s/lease.json'), 'E_STATE_READ', /it does not exist; create it, or check state_dir/],
      [errno('EROFS', 'rename', '/s/lease.json'), 'E_STATE_WRITE', /^cannot write \/s\/lease\.json: EROFS the file system is read-only; .*set state_dir \(or --state-dir\) to a writable location/],
    ];
    for (const [e, code, says] of cases) {
      assert.ok(isErrnoError(e));
      const mapped = fromErrno(e);
      assert.equal(mapped?.code, code, e.message);
      assert.match(mapped?.message ?? '', says);
      assert.equal(mapped?.details.file, e.path);
    }
    assert.equal(fromErrno(Object.assign(new Error('x'), { code: 'EPIPE' }) as never), null, 'no path: nothing to name');
    assert.ok(!isErrnoError(new TypeError('x')));
  });

  test('no source file outside the catalogue builds a ShadowError by hand or throws a bare Error', () => {
    // Free text under a generic code, or an Error that reaches a user unnamed, is what the catalogue replaces.
    const src = fileURLToPath(new URL('../../../src/', import.meta.url));
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
    const offenders = files(src).filter((f) => !f.endsWith('contract/errors.ts') && /new ShadowError\(|throw new (Type|Range)?Error\(/.test(readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });
});
