// Outbound safety. Rule targets are internal services, so private addresses are fine, but cloud
// metadata endpoints hand out credentials and are always refused; an optional allowlist (host
// names and CIDRs) narrows targets further. Checked when a rule is saved, and again at connect
// time on the address actually dialled, so a name that resolves elsewhere later (DNS rebinding)
// is caught too. Every IP spelling is brought to one canonical form first: WHATWG URL parsing
// already turns decimal, octal and hex IPv4 (http://2852039166/, http://0251.0376.0251.0376/)
// into dotted quads; IPv4-mapped, -compatible and NAT64 IPv6 forms are unwrapped here.
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export const METADATA_ADDRESSES = ['169.254.169.254', 'fd00:ec2::254', '168.63.129.16', '100.100.100.200'] as const;

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to every address it has; injected by tests to play DNS. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A refused target; a delivery failure that is never retried. */
export class TargetForbiddenError extends Error {
  readonly code = 'target_forbidden';
  readonly status = 400;
}

/** The 8 16-bit groups of an IPv6 literal (a trailing dotted quad allowed), or null. */
function ipv6Groups(text: string): number[] | null {
  let s = text.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const part = (p: string) => (p === '' ? [] : p.split(':').map((g) => parseInt(g, 16)));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const groups = [...head, ...Array<number>(fill).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * An IP literal in canonical form (IPv4 dotted quad, IPv4 inside IPv6 unwrapped, other IPv6 in
 * full lower-case hex groups), or null when `host` is a name. Brackets are allowed.
 */
export function canonicalIp(host: string): string | null {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const kind = isIP(h);
  if (kind === 4) return h.split('.').map(Number).join('.');
  if (kind !== 6) return null;
  const g = ipv6Groups(h);
  if (!g) return null;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const v4 = () => `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
  if (zero(0, 5) && g[5] === 0xffff) return v4(); // ::ffff:a.b.c.d (mapped)
  if (zero(0, 6) && (g[6]! > 0 || g[7]! > 1)) return v4(); // ::a.b.c.d (compatible, not :: or ::1)
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4(); // 64:ff9b::a.b.c.d (NAT64)
  return g.map((x) => x.toString(16)).join(':');
}

const METADATA = new Set(METADATA_ADDRESSES.map((a) => canonicalIp(a)!));

export interface NetGuardOptions {
  /** TARGET_ALLOWLIST entries: host names (`api.internal`, `*.svc.local`), IPs, CIDRs. */
  allowlist?: readonly string[] | undefined;
  resolve?: Resolver | undefined;
}

export class NetGuard {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly nets = new BlockList();
  private readonly restricted: boolean;
  readonly resolve: Resolver;

  constructor(opts: NetGuardOptions = {}) {
    this.resolve = opts.resolve ?? systemResolver;
    this.restricted = (opts.allowlist?.length ?? 0) > 0;
    for (const raw of opts.allowlist ?? []) {
      const entry = raw.trim().toLowerCase();
      const slash = entry.indexOf('/');
      const ip = canonicalIp(slash >= 0 ? entry.slice(0, slash) : entry);
      if (ip !== null) {
        const type = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
        if (slash >= 0) this.nets.addSubnet(ip, Number(entry.slice(slash + 1)), type);
        else this.nets.addAddress(ip, type);
      } else if (entry.startsWith('*.') || entry.startsWith('.')) {
        this.suffixes.push(entry.slice(entry.indexOf('.')));
      } else {
        this.names.add(entry);
      }
    }
  }

  private nameAllowed(hostname: string): boolean {
    const h = hostname.toLowerCase().replace(/\.$/, '');
    return this.names.has(h) || this.suffixes.some((s) => h.endsWith(s));
  }

  private addressAllowed(ip: string): boolean {
    return this.nets.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
  }

  /** Why connecting to `address` (reached through `hostname`) is refused, or null when it is fine. */
  refusal(address: string, hostname: string): string | null {
    const ip = canonicalIp(address);
    if (ip === null) return `${address} is not an IP address`;
    if (METADATA.has(ip)) return `${hostname === address ? address : `${hostname} (${ip})`} is a cloud metadata address`;
    if (this.restricted && !this.nameAllowed(hostname) && !this.addressAllowed(ip)) {
      return `${hostname === address ? address : `${hostname} (${ip})`} is not in TARGET_ALLOWLIST`;
    }
    return null;
  }

  /** Checks a rule's target URL when it is saved: its literal address, or every address its name resolves to. */
  async checkUrl(target: string): Promise<void> {
    const hostname = new URL(target).hostname;
    const literal = canonicalIp(hostname);
    if (literal !== null) {
      const why = this.refusal(literal, hostname);
      if (why) throw new TargetForbiddenError(`target refused: ${why}`);
      return;
    }
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.resolve(hostname);
    } catch {
      // A name that does not resolve yet is allowed unless only an address could have allowed it.
      if (this.restricted && !this.nameAllowed(hostname)) {
        throw new TargetForbiddenError(`target refused: ${hostname} does not resolve and is not in TARGET_ALLOWLIST`);
      }
      return;
    }
    for (const a of addresses) {
      const why = this.refusal(a.address, hostname);
      if (why) throw new TargetForbiddenError(`target refused: ${why}`);
    }
  }

  /**
   * A `lookup` for net.connect that resolves through the guard: a name with any refused address
   * fails to connect at all, so a rebinding answer never gets a socket.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname).then(
      (addresses) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const usable = family ? addresses.filter((a) => a.family === family) : addresses;
        for (const a of usable) {
          const why = this.refusal(a.address, hostname);
          if (why) {
            callback(Object.assign(new TargetForbiddenError(`target refused: ${why}`), { hostname }), '', 0);
            return;
          }
        }
        if (usable.length === 0) {
          callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '', 0);
          return;
        }
        if (options.all) (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}
