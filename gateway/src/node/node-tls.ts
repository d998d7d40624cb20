import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import { configError } from './config.js'

/**
 * A node's TLS material (--tls-cert, --tls-key, --tls-ca), PEM. The node serves HTTPS with the
 * certificate and presents it as its client certificate on internode calls. With `ca`, mutual TLS:
 * internode endpoints want a client certificate signed by it, and peers' server certificates are
 * verified against it; without, peers' certificates are verified against node's trusted roots.
 */
export interface NodeTls {
  readonly cert: Buffer
  readonly key: Buffer
  readonly ca: Buffer | undefined
}

/**
 * Read and check the TLS files of a node's configuration; undefined when it has no --tls-cert.
 * A file that cannot be read, or a key that does not match the certificate, is LEVELRING_BAD_CONFIG.
 */
export async function loadNodeTls (config: { readonly tlsCertFile?: string, readonly tlsKeyFile?: string, readonly tlsCaFile?: string }): Promise<NodeTls | undefined> {
  if (config.tlsCertFile === undefined || config.tlsKeyFile === undefined) return undefined
  const cert = await readPem('tlsCertFile', config.tlsCertFile)
  const key = await readPem('tlsKeyFile', config.tlsKeyFile)
  const ca = config.tlsCaFile === undefined ? undefined : await readPem('tlsCaFile', config.tlsCaFile)
  try {
    createSecureContext({ cert, key, ca })
  } catch (err) {
    throw configError('tlsCertFile', `${config.tlsCertFile} and ${config.tlsKeyFile} cannot serve TLS: ${(err as Error).message} ` +
      '(PEM files; the key must be the certificate\'s; `levelring certs` makes a matching pair)')
  }
  return { cert, key, ca }
}

async function readPem (setting: string, path: string): Promise<Buffer> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw configError(setting, `cannot read ${path}: ${(err as Error).message}`)
  }
  if (!bytes.includes('-----BEGIN ')) throw configError(setting, `${path} holds no PEM block (-----BEGIN ...)`)
  return bytes
}
