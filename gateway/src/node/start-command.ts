import type { Command } from 'commander'
import { loadConfig, type StartFlags } from './config.js'
import { startNode } from './start-node.js'

/** Register `levelring start`: run one node in the foreground until SIGTERM or SIGINT. */
export function registerStart (program: Command): void {
  program
    .command('start')
    .description('start one levelring node (embedded lsm-level storage in --data)')
    .option('--node-id <id>', 'node id: 1-64 of A-Z a-z 0-9 . _ - (default n1)')
    .option('--listen <host:port>', 'address to serve HTTP on (default 127.0.0.1:7001)')
    .option('--data <dir>', 'data directory (default ./data/<node-id>)')
    .option('--peers <list>', 'the other cluster members, comma-separated id=host:port (the same membership on every node)')
    .option('--seeds <list>', 'join a running cluster through these members, comma-separated host:port (needs --cluster-secret-file)')
    .option('--phi-threshold <phi>', 'failure detector: suspicion level at which a silent member is taken for down (default 8)')
    .option('--replicas <n>', 'replication factor n (default 1, or 3 with --peers or --seeds)')
    .option('--weight <w>', 'this node\'s ring weight relative to the others (default 1)')
    .option('--partitions <q>', 'ring partitions Q, a power of two, the same on every node (default 512)')
    .option('--config <file>', 'YAML or JSON file of settings; flags override it')
    .option('--auth-token-file <file>', 'require a bearer token, one accepted token per line')
    .option('--admin-token-file <file>', 'require an admin bearer token on /v1/admin/, one per line (without it: loopback callers only)')
    .option('--cluster-secret-file <file>', 'shared secrets, one a line (signs with the first, accepts any): sign internode calls and causal contexts')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (clients and peers, one port) and call peers over https; TLS is cluster-wide')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-ca <file>', 'PEM CA: mutual TLS, /internal/v1/ needs a client certificate it signed (public clients need none)')
    .option('--max-connections-per-peer <n>', 'connections one remote address may hold open; more are closed at once (default 512)')
    .option('--log-level <level>', 'pino level: fatal, error, warn, info, debug, trace, silent')
    .option('--enable-fault-injection', 'test facility: accept /internal/v1/faults, which cuts internode traffic with chosen members')
    .action(async (flags: StartFlags) => {
      const node = await startNode(loadConfig(flags))
      let signals = 0
      const stop = (signal: NodeJS.Signals): void => {
        if (++signals > 1) { node.logger.warn({ signal }, 'second signal: exiting now'); process.exit(1) }
        node.logger.info({ signal }, 'stopping: finishing in-flight requests')
        node.close().then(() => process.exit(0), (err: unknown) => {
          node.logger.error({ err }, 'unclean shutdown')
          process.exit(1)
        })
      }
      process.on('SIGTERM', stop)
      process.on('SIGINT', stop)
      // A node that left the cluster (POST /v1/admin/leave) has handed everything over: it exits.
      void node.left?.then(() => { node.logger.info('left the cluster: exiting'); stop('SIGTERM') })
    })
}
