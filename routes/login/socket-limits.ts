/** Which cap refused a socket. */
export type SocketCap = 'per_instance' | 'per_client' | 'per_login'

export interface SocketLimitsOptions {
  /** SOCKET_LIMIT_PER_INSTANCE; 0 = no cap. */
  perInstance: number
  /** SOCKET_LIMIT_PER_IP, counted by clientKey (IPv6 by /64); 0 = no cap. */
  perClient: number
  /** SOCKET_LIMIT_PER_LOGIN; 0 = no cap. */
  perLogin: number
}

/** Gives the counted place back; harmless twice. */
export type Release = () => void

/**
 * The open login sockets of this instance, counted in memory: in all, per client and per login.
 * A socket costs a file descriptor and, once subscribed, a share of a Redis subscription, so one
 * client (or one login's holder) cannot pile them up until its logins expire. The counts are per
 * instance: the deployment's caps are these times the instances, which a load balancer spreads.
 */
export function createSocketLimits ({ perInstance, perClient, perLogin }: SocketLimitsOptions) {
  let open = 0
  const byClient = new Map<string, number>()
  const byLogin = new Map<string, number>()

  const over = (cap: number, count: number) => cap > 0 && count >= cap

  function counted (counts: Map<string, number>, key: string): Release {
    counts.set(key, (counts.get(key) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (counts.get(key) ?? 1) - 1
      if (left === 0) counts.delete(key)
      else counts.set(key, left)
    }
  }

  /** The cap a new socket from `client` would break, or null. */
  function refusal (client: string): SocketCap | null {
    if (over(perInstance, open)) return 'per_instance'
    if (over(perClient, byClient.get(client) ?? 0)) return 'per_client'
    return null
  }

  return {
    /** Before the upgrade: refused with an HTTP status, no socket made. */
    refusal,

    /** At the upgrade: counts the socket, or null when a cap filled since refusal() was asked. */
    admit (client: string): Release | null {
      if (refusal(client) !== null) return null
      open++
      const releaseClient = counted(byClient, client)
      let released = false
      return () => {
        if (released) return
        released = true
        open--
        releaseClient()
      }
    },

    /** Once the socket subscribed to a login: counts it there, or null when the login has its share. */
    watch (scene: string): Release | null {
      if (over(perLogin, byLogin.get(scene) ?? 0)) return null
      return counted(byLogin, scene)
    },

    /** For tests and metrics: the sockets counted now. */
    get open () {
      return open
    }
  }
}

export type SocketLimits = ReturnType<typeof createSocketLimits>
