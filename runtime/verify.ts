// Sender verification on the raw bytes, before anything is parsed. One function per scheme; every
// comparison is constant-time (node:crypto timingSafeEqual) and every failure is one of three
// stable codes, so callers and metrics match on the code (see handlers/errors.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export type Scheme = 'standard-webhooks' | 'github' | 'stripe' | 'shopify' | 'slack' | 'hmac' | 'none';
export const SCHEMES: readonly Scheme[] = ['standard-webhooks', 'github', 'stripe', 'shopify', 'slack', 'hmac', 'none'];

export type VerifyFailure = 'signature_missing' | 'signature_invalid' | 'timestamp_out_of_tolerance';

export class VerificationError extends Error {
  readonly status = 401;
  constructor(
    readonly code: VerifyFailure,
    message: string,
  ) {
    super(message);
    this.name = 'VerificationError';
  }
}

export interface Verification {
  scheme: Scheme;
  /** Every secret is tried, so a rotated secret and its successor are accepted at once. */
  secrets: string[];
  /** How far a signed timestamp may be from now, either way (schemes that sign one). */
  toleranceSeconds: number;
  /** Generic hmac: the header carrying the signature, the algorithm, encoding and prefix. */
  header?: string;
  algorithm?: 'sha256' | 'sha1';
  encoding?: 'hex' | 'base64';
  prefix?: string;
}

type Headers = Record<string, string | undefined>;

const missing = (what: string) => new VerificationError('signature_missing', `${what} header is missing`);
const invalid = () => new VerificationError('signature_invalid', 'no signature matches any configured secret');

function sameText(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function hmac(algorithm: string, secret: string, ...parts: Uint8Array[]): Buffer {
  const h = createHmac(algorithm, secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** A signed timestamp (seconds) within tolerance of now, else timestamp_out_of_tolerance. */
function checkTimestamp(raw: string, nowMs: number, toleranceSeconds: number): number {
  if (!/^\d{1,12}$/.test(raw)) throw new VerificationError('signature_invalid', 'timestamp is not a number of seconds');
  const t = Number(raw);
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) {
    throw new VerificationError('timestamp_out_of_tolerance', `timestamp is more than ${toleranceSeconds}s from now`);
  }
  return t;
}

/** Standard Webhooks (and Svix, the same scheme under svix- header names). */
function standardWebhooks(v: Verification, keys: Webhook[], body: Uint8Array, h: Headers, nowMs: number): void {
  const prefix = h['webhook-signature'] !== undefined || h['webhook-id'] !== undefined ? 'webhook' : 'svix';
  const id = h[`${prefix}-id`];
  const timestamp = h[`${prefix}-timestamp`];
  const signature = h[`${prefix}-signature`];
  if (signature === undefined) throw missing(`${prefix}-signature`);
  if (id === undefined || timestamp === undefined) throw missing(`${prefix}-id or ${prefix}-timestamp`);
  if (!/^\d{1,12}$/.test(timestamp)) throw new VerificationError('signature_invalid', 'timestamp is not a number of seconds');
  const at = new Date(Number(timestamp) * 1000);
  // The library signs (so whsec_ secrets and the v1 format are its business); the comparison and
  // the clock are ours, because its verify() reads Date.now() with a fixed tolerance.
  const expected = keys.map((k) => k.sign(id, at, body));
  const given = signature.split(' ').filter((s) => s.startsWith('v1,'));
  if (!given.some((g) => expected.some((e) => sameText(g, e)))) throw invalid();
  checkTimestamp(timestamp, nowMs, v.toleranceSeconds);
}

function github(v: Verification, body: Uint8Array, h: Headers): void {
  const given = h['x-hub-signature-256'];
  if (given === undefined) throw missing('X-Hub-Signature-256');
  if (!v.secrets.some((s) => sameText(given, `sha256=${hmac('sha256', s, body).toString('hex')}`))) throw invalid();
}

/** Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>...] over `${t}.${body}`. */
function stripe(v: Verification, body: Uint8Array, h: Headers, nowMs: number): void {
  const header = h['stripe-signature'];
  if (header === undefined) throw missing('Stripe-Signature');
  let t: string | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1') v1.push(value);
  }
  if (t === undefined || v1.length === 0) throw invalid();
  const signed = Buffer.from(`${t}.`);
  const expected = v.secrets.map((s) => hmac('sha256', s, signed, body).toString('hex'));
  if (!v1.some((g) => expected.some((e) => sameText(g, e)))) throw invalid();
  checkTimestamp(t, nowMs, v.toleranceSeconds);
}

function shopify(v: Verification, body: Uint8Array, h: Headers): void {
  const given = h['x-shopify-hmac-sha256'];
  if (given === undefined) throw missing('X-Shopify-Hmac-Sha256');
  if (!v.secrets.some((s) => sameText(given, hmac('sha256', s, body).toString('base64')))) throw invalid();
}

/** Slack: X-Slack-Signature v0=<hex> over `v0:${X-Slack-Request-Timestamp}:${body}`. */
function slack(v: Verification, body: Uint8Array, h: Headers, nowMs: number): void {
  const given = h['x-slack-signature'];
  const timestamp = h['x-slack-request-timestamp'];
  if (given === undefined) throw missing('X-Slack-Signature');
  if (timestamp === undefined) throw missing('X-Slack-Request-Timestamp');
  const signed = Buffer.from(`v0:${timestamp}:`);
  if (!v.secrets.some((s) => sameText(given, `v0=${hmac('sha256', s, signed, body).toString('hex')}`))) throw invalid();
  checkTimestamp(timestamp, nowMs, v.toleranceSeconds);
}

function generic(v: Verification, body: Uint8Array, h: Headers): void {
  const name = v.header!.toLowerCase();
  const given = h[name];
  if (given === undefined) throw missing(v.header!);
  const encoding = v.encoding ?? 'hex';
  const prefix = v.prefix ?? '';
  const ok = v.secrets.some((s) => {
    const digest = hmac(v.algorithm ?? 'sha256', s, body).toString(encoding);
    // Hex is compared case-insensitively (senders differ); base64 is case-sensitive.
    return encoding === 'hex' ? sameText(given.toLowerCase(), `${prefix}${digest}`.toLowerCase()) : sameText(given, `${prefix}${digest}`);
  });
  if (!ok) throw invalid();
}

export type Verifier = (body: Uint8Array, headers: Headers, nowMs: number) => void;

/** Builds the verifier for one source; it throws a VerificationError, or returns when the sender checks out. */
export function createVerifier(v: Verification): Verifier {
  switch (v.scheme) {
    case 'none':
      return () => undefined;
    case 'standard-webhooks': {
      const keys = v.secrets.map((s) => new Webhook(s));
      return (body, h, now) => standardWebhooks(v, keys, body, h, now);
    }
    case 'github':
      return (body, h) => github(v, body, h);
    case 'stripe':
      return (body, h, now) => stripe(v, body, h, now);
    case 'shopify':
      return (body, h) => shopify(v, body, h);
    case 'slack':
      return (body, h, now) => slack(v, body, h, now);
    case 'hmac':
      return (body, h) => generic(v, body, h);
  }
}
