/**
 * A sample session for the panels, loaded only with `?demo`: it lets a developer see every
 * panel with data before the simulated world feeds them. Reserved names only (RFC 2606).
 */
import { arrowsFromTranscript, type DeliveryTimelineData, type DnsAnswer, type MachineSnapshot, type TranscriptEntry } from './types';

export const transcript: readonly TranscriptEntry[] = [
  { dir: '**', text: 'Connected to mx.example.net (192.0.2.25) port 25', time: 0 },
  { dir: '<-', text: '220 mx.example.net ESMTP ready', time: 120, explanation: '220: the server is ready to talk.' },
  { dir: '->', text: 'EHLO client.example.com', time: 2_000, explanation: 'The client names itself and asks for the extended command set.' },
  { dir: '<-', text: '250-mx.example.net', time: 2_100 },
  { dir: '<-', text: '250-PIPELINING', time: 2_100, explanation: 'The client may send several commands without waiting for each reply.' },
  { dir: '<-', text: '250 STARTTLS', time: 2_100, explanation: 'The connection can be upgraded to TLS.' },
  { dir: '->', text: 'STARTTLS', time: 4_000 },
  { dir: '<-', text: '220 2.0.0 Go ahead', time: 4_050 },
  { dir: '**', text: 'TLS 1.3 established', time: 4_200 },
  { dir: '~>', text: 'MAIL FROM:<alice@example.com>', time: 6_000, explanation: 'The envelope sender: bounces go here, whatever the From: header says.' },
  { dir: '<~', text: '250 2.1.0 Ok', time: 6_050 },
  { dir: '~>', text: 'RCPT TO:<nobody@example.net>', time: 8_000 },
  { dir: '<~', text: '550 5.1.1 No such mailbox', time: 8_050, explanation: '550 with 5.1.1: the address does not exist here. Permanent: do not retry.' },
  { dir: '~>', text: 'RCPT TO:<bob@example.net>', time: 9_000 },
  { dir: '<~', text: '451 4.7.1 Try again later', time: 9_050, explanation: 'A temporary refusal (greylisting): a real server retries later.' },
];

export const arrows = arrowsFromTranscript(transcript);

export const machines: MachineSnapshot = {
  server: { state: 'mail transaction', detail: 'sender accepted, no recipient yet' },
  client: { state: 'after MAIL', validNext: ['RCPT TO:<...>', 'RSET', 'NOOP', 'QUIT'] },
};

export const dns: DnsAnswer = {
  query: { name: 'example.net', type: 'MX' },
  status: 'NOERROR',
  records: [
    { name: 'example.net.', ttl: 3600, type: 'MX', preference: 10, value: 'mx.example.net.' },
    { name: 'example.net.', ttl: 3600, type: 'MX', preference: 20, value: 'mx2.example.net.' },
  ],
  chosen: ['mx.example.net', 'mx2.example.net'],
};

export const delivery: DeliveryTimelineData = {
  attempts: [
    { time: 9_050, host: 'mx.example.net', outcome: 'deferred', reply: '451 4.7.1 Try again later' },
    { time: 9_050 + 300_000, host: 'mx.example.net', outcome: 'delivered', reply: '250 2.0.0 Ok: queued as 4F2A' },
  ],
  final: 'delivered',
};
