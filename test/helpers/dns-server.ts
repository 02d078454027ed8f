/**
 * A DNS server on UDP 127.0.0.1, port 0, that answers from a zone given as a plain object, for tests that
 * resolve MX and address records without touching the system's resolver.
 *
 *   const dns = await startDnsServer({
 *     'example.com': { mx: [{ preference: 10, exchange: 'mx1.example.com' }] },
 *     'mx1.example.com': { a: ['127.0.0.1'] },
 *     'null.example': { mx: [{ preference: 0, exchange: '.' }] },
 *     'broken.example': { servfail: true },
 *   });
 *   const resolver = createResolver([dns.address], 1000);
 *
 * Names are lowercase A-labels without the trailing dot. A name in the zone without records of the asked
 * type gets an empty NOERROR answer (ENODATA in node:dns), a name not in the zone gets NXDOMAIN (ENOTFOUND).
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

/** The records of one name. */
export interface ZoneRecords {
  /** MX records; an exchange of "." or "" is a null MX (RFC 7505). */
  mx?: Array<{ preference: number; exchange: string }>;
  a?: string[];
  aaaa?: string[];
  /** Answer every query for this name with SERVFAIL. */
  servfail?: boolean;
}

/** Records by owner name. */
export type Zone = Record<string, ZoneRecords>;

export interface DnsServer {
  /** "127.0.0.1:PORT", the form `dns.servers` and `createResolver` take. */
  address: string;
  /** Every question received, in order, with the name as sent. */
  queries: Array<{ name: string; type: string }>;
  close(): Promise<void>;
}

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const TTL_SECONDS = 60;

/** Starts the server; `zone` may be changed while it runs. */
export async function startDnsServer(zone: Zone): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const queries: DnsServer['queries'] = [];

  socket.on('message', (message, peer) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (question === undefined) {
      return;
    }
    queries.push({ name: question.name, type: question.type });

    const records = zone[question.name.toLowerCase().replace(/\.$/, '')];
    let rcode = 0;
    let answers: dnsPacket.Answer[] = [];
    if (records === undefined) {
      rcode = RCODE_NXDOMAIN;
    } else if (records.servfail) {
      rcode = RCODE_SERVFAIL;
    } else {
      answers = answersFor(question, records);
    }
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
      questions: [question],
      answers,
    });
    socket.send(response, peer.port, peer.address);
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });

  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answersFor(question: dnsPacket.Question, records: ZoneRecords): dnsPacket.Answer[] {
  const name = question.name;
  switch (question.type) {
    case 'MX':
      return (records.mx ?? []).map((mx) => ({
        type: 'MX' as const,
        name,
        ttl: TTL_SECONDS,
        data: { preference: mx.preference, exchange: mx.exchange === '.' ? '' : mx.exchange },
      }));
    case 'A':
      return (records.a ?? []).map((address) => ({ type: 'A' as const, name, ttl: TTL_SECONDS, data: address }));
    case 'AAAA':
      return (records.aaaa ?? []).map((address) => ({ type: 'AAAA' as const, name, ttl: TTL_SECONDS, data: address }));
    default:
      return [];
  }
}
