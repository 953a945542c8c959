/** The wire validator: good frames through, malformed frames named, nothing ever thrown. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMessage, parseBridgeMessage, parseClientMessage, type ClientMessage } from '../../src/net/wire';

describe('parseClientMessage', () => {
  it.each<ClientMessage>([
    { type: 'resolve', id: 'q1', name: 'example.com', rrtype: 'MX' },
    { type: 'connect', host: 'mx.example.net', port: 25, tls: 'none' },
    { type: 'connect', host: '127.0.0.1', port: 465, tls: 'implicit', servername: 'mx.example.net' },
    { type: 'starttls' },
    { type: 'starttls', servername: 'mx.example.net', rejectUnauthorized: true },
    { type: 'send', data: 'EHLO client.example\r\n' },
    { type: 'send', base64: 'RUhMTyB4DQo=' },
    { type: 'close' },
    { type: 'close', reason: 'done' },
  ])('accepts %j unchanged', (message) => {
    expect(parseClientMessage(encodeMessage(message))).toEqual({ ok: true, message });
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[]', 'must be a JSON object, got an array'],
    ['{}', 'no "type" string'],
    ['{"type":"hello"}', 'unknown message type "hello"'],
    ['{"type":"send"}', 'exactly one of "data" (text) or "base64"'],
    ['{"type":"send","data":"a","base64":"YQ=="}', 'exactly one of'],
    ['{"type":"send","base64":"not base64!"}', 'standard padded base64'],
    ['{"type":"send","data":5}', '"data" must be a string, got a number'],
    ['{"type":"connect","host":"a.example","port":0,"tls":"none"}', '"port" must be a whole number from 1 to 65535'],
    ['{"type":"connect","host":"a.example","port":25.5,"tls":"none"}', '"port" must be a whole number'],
    ['{"type":"connect","host":"a.example","port":25}', '"tls" must be "none" or "implicit"'],
    ['{"type":"connect","host":"","port":25,"tls":"none"}', '"host" must not be empty'],
    ['{"type":"connect","host":"a\\nb","port":25,"tls":"none"}', 'control character'],
    ['{"type":"connect","host":"a.example","port":25,"tls":"none","via":"x"}', 'unknown field "via"'],
    ['{"type":"resolve","id":"1","name":"a.example","rrtype":"PTR"}', '"rrtype" must be one of MX, A, AAAA, TXT'],
    ['{"type":"starttls","rejectUnauthorized":"yes"}', '"rejectUnauthorized" must be true or false'],
  ])('rejects %s: %s', (frame, words) => {
    const result = parseClientMessage(frame);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain(words);
  });

  it('never throws on 20,000 random strings and JSON values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.anything().map((value) => JSON.stringify(value) ?? 'undefined')), (text) => {
        const result = parseClientMessage(text);
        expect(typeof result.ok).toBe('boolean');
        if (!result.ok) expect(result.error.length).toBeGreaterThan(5);
      }),
      { numRuns: 20_000, seed: 42 },
    );
  });
});

describe('parseBridgeMessage', () => {
  it('reads bridge frames and refuses unknown ones', () => {
    expect(parseBridgeMessage('{"type":"data","text":"220 hi\\r\\n"}')).toEqual({ ok: true, message: { type: 'data', text: '220 hi\r\n' } });
    expect(parseBridgeMessage('{"type":"data"}').ok).toBe(false);
    expect(parseBridgeMessage('{"type":"launch"}').ok).toBe(false);
    expect(parseBridgeMessage('nope').ok).toBe(false);
  });
});
