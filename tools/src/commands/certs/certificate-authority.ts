import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import forge from 'node-forge'

// A cluster's own certificate authority and its node certificates, for --tls-cert, --tls-key and
// --tls-ca. Node's crypto makes the keys (RSA 2048) but cannot sign X.509 certificates, so
// node-forge writes and signs them; nothing here calls out to other programs.

/** File names in a certificate directory. */
export const CA_CERT_FILE = 'ca.pem'
export const CA_KEY_FILE = 'ca-key.pem'
export const certFile = (name: string): string => `${name}.pem`
export const keyFile = (name: string): string => `${name}-key.pem`

/** What every node certificate names besides the node's own name: the loopback addresses a local cluster uses. */
export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'] as const

/** A CA is kept ten years: its certificate is what every node trusts, so replacing it is a cluster-wide rollout. */
export const CA_DAYS = 3650
/** Node certificates default to a year: short enough to be renewed routinely, by a rolling restart. */
export const NODE_DAYS = 365

/** Names a certificate may carry: host names and IP addresses; node names also pass (they are host-name safe). */
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,253}$/

export interface MadeCertificate {
  readonly name: string
  readonly certFile: string
  readonly keyFile: string
  /** The host names and addresses the certificate is valid for. */
  readonly altNames: readonly string[]
}

export interface CertificatesMade {
  readonly caFile: string
  /** True when the directory already held a CA and the node certificates were signed by it. */
  readonly reusedCa: boolean
  readonly nodes: readonly MadeCertificate[]
}

export interface MakeCertificatesOptions {
  /** Node names: each gets NAME.pem and NAME-key.pem, valid for NAME, the loopback names and `hosts`. */
  readonly nodes: readonly string[]
  /** More host names or IP addresses every node certificate is valid for. */
  readonly hosts?: readonly string[]
  readonly days?: number
}

/**
 * Make (or reuse) the CA in `dir` (ca.pem, ca-key.pem) and one certificate and key per node, signed by
 * it, usable as server and as client certificate. Keys are written readable by their owner only; a
 * node's existing files are replaced. Throws an Error naming a bad node or host name.
 */
export async function makeCertificates (dir: string, options: MakeCertificatesOptions): Promise<CertificatesMade> {
  for (const name of [...options.nodes, ...(options.hosts ?? [])]) {
    if (!NAME_PATTERN.test(name) && isIP(name) === 0) throw new Error(`${JSON.stringify(name)} is neither a host name nor an IP address`)
  }
  if (options.nodes.length === 0) throw new Error('name at least one node')
  await mkdir(dir, { recursive: true })
  const caPath = join(dir, CA_CERT_FILE)
  const caKeyPath = join(dir, CA_KEY_FILE)
  const reusedCa = existsSync(caPath) && existsSync(caKeyPath)
  let ca: { cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey }
  if (reusedCa) {
    ca = { cert: forge.pki.certificateFromPem(await readFile(caPath, 'utf8')), key: forge.pki.privateKeyFromPem(await readFile(caKeyPath, 'utf8')) }
  } else {
    const keys = rsaKeys()
    const cert = certificate(keys.publicKey, CA_DAYS, [{ name: 'commonName', value: `levelring cluster CA ${randomBytes(4).toString('hex')}` }])
    cert.setIssuer(cert.subject.attributes)
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' }
    ])
    cert.sign(keys.privateKey, forge.md.sha256.create())
    ca = { cert, key: keys.privateKey }
    await writeSecret(caKeyPath, forge.pki.privateKeyToPem(keys.privateKey))
    await writeFile(caPath, forge.pki.certificateToPem(cert))
  }
  const nodes: MadeCertificate[] = []
  for (const name of options.nodes) {
    const altNames = [...new Set([name, ...LOOPBACK_NAMES, ...(options.hosts ?? [])])]
    const keys = rsaKeys()
    const cert = certificate(keys.publicKey, options.days ?? NODE_DAYS, [{ name: 'commonName', value: name }])
    cert.setIssuer(ca.cert.subject.attributes)
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      // A node serves TLS and presents the same certificate as a client on internode calls.
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: altNames.map((n) => isIP(n) === 0 ? { type: 2, value: n } : { type: 7, ip: n }) },
      { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() }
    ])
    cert.sign(ca.key, forge.md.sha256.create())
    const made = { name, certFile: join(dir, certFile(name)), keyFile: join(dir, keyFile(name)), altNames }
    await writeSecret(made.keyFile, forge.pki.privateKeyToPem(keys.privateKey))
    await writeFile(made.certFile, forge.pki.certificateToPem(cert))
    nodes.push(made)
  }
  return { caFile: caPath, reusedCa, nodes }
}

/** A fresh RSA 2048 key pair from node's crypto (forge's own generator is pure JS and slow), in forge's form. */
function rsaKeys (): { publicKey: forge.pki.rsa.PublicKey, privateKey: forge.pki.rsa.PrivateKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString())
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) }
}

/** A certificate valid from an hour ago (clocks drift) for `days`, with a random serial. */
function certificate (publicKey: forge.pki.rsa.PublicKey, days: number, subject: forge.pki.CertificateField[]): forge.pki.Certificate {
  const cert = forge.pki.createCertificate()
  cert.publicKey = publicKey
  // A positive serial: 16 random bytes with the top bit cleared.
  const serial = randomBytes(16)
  serial[0] = serial[0]! & 0x7f
  cert.serialNumber = serial.toString('hex')
  cert.validity.notBefore = new Date(Date.now() - 3_600_000)
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000)
  cert.setSubject(subject)
  return cert
}

async function writeSecret (path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 })
  await chmod(path, 0o600) // an existing file keeps its mode through writeFile
}
