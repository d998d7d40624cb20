import type { Command } from 'commander'
import { positiveInteger, withJson } from '../cli-kit/common-options.js'
import { CliFailure } from '../cli-kit/failure.js'
import { Output } from '../cli-kit/output.js'
import { CA_KEY_FILE, LOOPBACK_NAMES, makeCertificates, NODE_DAYS } from './certs/certificate-authority.js'

const list = (text: string): string[] => text.split(',').map((s) => s.trim()).filter((s) => s !== '')

/**
 * Register `levelring certs --dir DIR --nodes a,b,c [--hosts h1,h2] [--days N]`: a CA for the cluster
 * (made once, reused afterwards) and a certificate and key per node, for --tls-cert, --tls-key, --tls-ca.
 */
export function registerCerts (program: Command): void {
  withJson(program.command('certs')
    .description('make a CA for a cluster (or reuse the one in --dir) and a certificate and key per node, signed by it, for start --tls-cert/--tls-key/--tls-ca')
    .requiredOption('--dir <dir>', `where the files go: ca.pem, ${CA_KEY_FILE} (kept secret: it signs new nodes), NODE.pem, NODE-key.pem`)
    .requiredOption('--nodes <names>', 'comma-separated node names; each certificate is valid for its name and the loopback names')
    .option('--hosts <names>', `more host names or IP addresses every node certificate is valid for, comma-separated (always: ${LOOPBACK_NAMES.join(', ')})`)
    .option('--days <n>', `node certificates' validity in days (default ${NODE_DAYS})`, positiveInteger))
    .action(async (flags: { dir: string, nodes: string, hosts?: string, days?: number, json?: boolean }) => {
      let made
      try {
        made = await makeCertificates(flags.dir, { nodes: list(flags.nodes), hosts: flags.hosts === undefined ? [] : list(flags.hosts), days: flags.days })
      } catch (err) {
        throw new CliFailure(`certs: ${(err as Error).message}`, { code: 'LEVELRING_BAD_ARGUMENT' })
      }
      const out = new Output()
      if (flags.json === true) { await out.json(made); return }
      await out.lines([
        `${made.reusedCa ? 'signed with the existing CA' : 'made a new CA'}: ${made.caFile} (every node's --tls-ca; clients' --ca)`,
        ...made.nodes.map((n) => `  ${n.name}: --tls-cert ${n.certFile} --tls-key ${n.keyFile}  (valid for ${n.altNames.join(', ')})`)
      ])
    })
}
