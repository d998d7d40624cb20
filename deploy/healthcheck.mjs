// The container's health check: GET the node's readiness path on loopback (the port of
// LEVELRING_LISTEN); exit 0 when it answers 200, 1 otherwise. LEVELRING_HEALTHCHECK_PATH overrides
// the path (default /v1/ready).
const listen = process.env.LEVELRING_LISTEN ?? '0.0.0.0:7001'
const port = Number(/:([0-9]{1,5})$/.exec(listen)?.[1] ?? listen)
const path = process.env.LEVELRING_HEALTHCHECK_PATH ?? '/v1/ready'
try {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_500) })
  process.exit(res.status === 200 ? 0 : 1)
} catch {
  process.exit(1)
}
