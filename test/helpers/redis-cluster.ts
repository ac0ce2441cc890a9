/**
 * A Redis Cluster of the test's own: three masters on free loopback ports, no replicas, no
 * persistence, joined by `redis-cli --cluster create`. The suite starts one (test/run.ts) and hands
 * its nodes to every file as TEST_REDIS_CLUSTER_NODES.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RedisOptions } from 'ioredis'
import { askRedis, freeLoopbackPort, waitForRedis } from './redis-server.js'
import { waitFor } from './wait.js'

export interface RedisClusterServer {
  /** host:port of each master, comma-separated: REDIS_CLUSTER_NODES. */
  nodes: string
  /** Stops every node (the whole cluster out of reach) and resolves once they have exited. */
  stop (): Promise<void>
  /** Starts them again on the same ports, empty (no persistence) but with their slots, and resolves once the cluster is ok. */
  start (): Promise<void>
  /** Stops every node and removes their directory. Harmless twice. */
  close (): Promise<void>
  /** With `tls`: the PEM file of the CA that signed the nodes' certificate (NODE_EXTRA_CA_CERTS). */
  caFile?: string
}

const MASTERS = 3

/** Why a cluster cannot be started here, or null: redis-cli joins the nodes, redis-server runs them. */
export function clusterToolsProblem (): string | null {
  for (const tool of ['redis-server', 'redis-cli']) {
    if (spawnSync(tool, ['--version']).error !== undefined) {
      return `${tool} is missing: the Redis Cluster tests start a cluster of their own (Debian/Ubuntu: apt-get install redis-server redis-tools; macOS: brew install redis)`
    }
  }
  return null
}

/**
 * A CA and a certificate it signed for 127.0.0.1 (the name the nodes announce), in `dir`: what a
 * managed cluster's TLS looks like to a client that trusts the CA.
 */
function makeCertificates (dir: string): { caFile: string, certFile: string, keyFile: string } {
  const file = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  writeFileSync(file('node.ext'), 'subjectAltName=IP:127.0.0.1\n')
  for (const args of [
    ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=wql test CA'],
    ['req', ...ec, '-keyout', file('node.key'), '-out', file('node.csr'), '-subj', '/CN=127.0.0.1'],
    ['x509', '-req', '-in', file('node.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('node.pem'), '-days', '2', '-extfile', file('node.ext')]
  ]) {
    const made = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 })
    if (made.status !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${made.error?.message ?? made.stderr}`)
  }
  return { caFile: file('ca.pem'), certFile: file('node.pem'), keyFile: file('node.key') }
}

/**
 * `password`: every node asks for it (requirepass), as a managed cluster does. `tls`: every node
 * speaks TLS only, between themselves too, with a certificate of a CA of the test's own (caFile).
 */
export async function startRedisCluster ({ password, tls = false }: { password?: string, tls?: boolean } = {}): Promise<RedisClusterServer> {
  const problem = clusterToolsProblem()
  if (problem !== null) throw new Error(problem)
  const dir = mkdtempSync(join(tmpdir(), 'wql-redis-cluster-'))
  const certificates = tls ? makeCertificates(dir) : null
  const clientTls = certificates === null ? {} : { tls: { ca: readFileSync(certificates.caFile) } }
  const nodeOptions = (port: number): RedisOptions => ({ host: '127.0.0.1', port, password, ...clientTls })
  const ports: number[] = []
  /** Every node answers cluster_state:ok: each knows all 16384 slots are served. */
  const clusterReady = async () => (await Promise.all(ports.map((port) =>
    askRedis(nodeOptions(port), async (node) => String(await node.cluster('INFO')).includes('cluster_state:ok')).catch(() => false)))).every(Boolean)
  const children: ChildProcess[] = []
  let closed = false

  const stop = async (): Promise<void> => {
    const running = children.splice(0)
    await Promise.all(running.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }))
  }
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await stop()
    rmSync(dir, { recursive: true, force: true })
  }
  // Each node keeps its cluster configuration (its id, its slots, its peers) in nodes-PORT.conf.
  const startNodes = async (): Promise<void> => {
    for (const port of ports) {
      children.push(spawn('redis-server', [
        ...(certificates === null
          ? ['--port', String(port)]
          : ['--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-auth-clients', 'no',
              '--tls-cert-file', certificates.certFile, '--tls-key-file', certificates.keyFile, '--tls-ca-cert-file', certificates.caFile]),
        '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--save', '', '--appendonly', 'no', '--dir', dir,
        ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password])
      ], { stdio: 'ignore' }))
    }
    await Promise.all(ports.map((port) => waitForRedis(nodeOptions(port), 10_000)))
  }
  const clusterOk = () => waitFor(clusterReady, { timeoutMs: 20_000, intervalMs: 100, what: 'every cluster node to report cluster_state:ok' })

  try {
    while (ports.length < MASTERS) {
      const port = await freeLoopbackPort()
      if (!ports.includes(port)) ports.push(port)
    }
    await startNodes()
    const nodes = ports.map((port) => `127.0.0.1:${port}`)
    const cliAuth = password === undefined ? [] : ['-a', password, '--no-auth-warning']
    const cliTls = certificates === null ? [] : ['--tls', '--cacert', certificates.caFile]
    const created = spawnSync('redis-cli', [...cliAuth, ...cliTls, '--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 })
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`)
    await clusterOk()
    return {
      nodes: nodes.join(','),
      ...(certificates === null ? {} : { caFile: certificates.caFile }),
      stop,
      async start () {
        await startNodes()
        await clusterOk()
      },
      close
    }
  } catch (error) {
    await close()
    throw error
  }
}

/** The suite's cluster nodes (REDIS_CLUSTER_NODES for the cluster cases), or a clear failure: a cluster case never passes by skipping. */
export function requireClusterNodes (): string {
  const clusterNodes = process.env.TEST_REDIS_CLUSTER_NODES
  if (clusterNodes === undefined || clusterNodes === '') {
    throw new Error('TEST_REDIS_CLUSTER_NODES is unset: run the tests through `npm test` / `node dist/test/run.js`, which start a Redis Cluster, or give host:port of a cluster\'s masters')
  }
  return clusterNodes
}
