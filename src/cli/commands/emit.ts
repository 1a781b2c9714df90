/** `emit <type>`: one readiness event from flags or from a JSON object on stdin. */
import { errors } from '../../contract/errors.js';
import { emit as appendEvent } from '../../producer/emit.js';
import { EVENT_TYPES, isEventType } from '../../producer/event-types.js';
import type { Call, Output } from '../command.js';
import { EMIT_FIELDS } from '../emit-fields.js';

type EmitOptions = Record<string, string | boolean | undefined> & { stdin?: boolean; json?: boolean };

export async function emit(call: Call<EmitOptions>, type: string): Promise<Output> {
  const { ctx, opts } = call;
  if (!isEventType(type)) throw errors.argumentInvalid('event type', type, `allowed values are ${EVENT_TYPES.join(', ')}`, EVENT_TYPES);
  const fields = opts.stdin ? parseStdinEvent(await ctx.stdin()) : fieldsFromFlags(opts);
  const { event, file } = appendEvent(await call.config(), ctx, type, fields);
  return { json: event, text: () => `appended ${event.type} ${event.id} to ${file}` };
}

function fieldsFromFlags(o: EmitOptions): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of ['id', ...EMIT_FIELDS]) {
    const value = o[field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())];
    if (typeof value !== 'string') continue;
    fields[field] = field === 'review_round' && /^\d+$/.test(value) ? Number(value) : value;
  }
  return fields;
}

function parseStdinEvent(text: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw errors.eventInvalid([`standard input is not JSON: ${(e as Error).message}`]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw errors.eventInvalid(['standard input must hold one JSON object']);
  return data as Record<string, unknown>;
}
