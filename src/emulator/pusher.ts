import { Agent } from 'undici'
import { EmulatorError } from './errors.js'
import { sendPush, type PushResult, type PushSigning, type WeChatPush } from './push.js'
import type { EmulatorSettings, PushOptions } from './types.js'

export interface PreparedPush {
  /** The webhook, resolved now. */
  url: string
  signing: PushSigning
}

export interface Pusher {
  /** Resolves the mode and the webhook: call it before changing any state, so a refused push is no scan. */
  prepare (openid: string | undefined, options: PushOptions | undefined): PreparedPush
  /**
   * CreateTime in seconds, strictly increasing per openid: two scans by one user within a second would
   * otherwise share the (FromUserName, CreateTime) dedup key and the second look like a retry.
   */
  createTime (openid: string | undefined): number
  /** POSTs a push to the webhook like WeChat does. */
  send (push: WeChatPush): Promise<PushResult>
  /** Closes the connections used for pushes. */
  close (): Promise<void>
}

type PusherSettings = Pick<EmulatorSettings, 'token' | 'webhookUrl' | 'mode' | 'modes' | 'crypto' | 'pushTimeoutMs' | 'now'>

/** How the emulator reaches the webhook, as WeChat does: signed (and encrypted) per the console's mode. */
export function createPusher ({ token, webhookUrl, mode: defaultMode, modes, crypto, pushTimeoutMs, now }: PusherSettings, onSend: () => void): Pusher {
  let dispatcher: Agent | null = null
  // Outlives the emulator's reset(): a scan right after a reset must not reuse a CreateTime the service has seen.
  const lastCreateTimes = new Map<string, number>()

  function resolveWebhook (): string {
    try {
      return webhookUrl()
    } catch (error) {
      throw new EmulatorError('no_webhook', `no webhook to push to: ${(error as Error).message}`, { cause: error })
    }
  }

  return {
    prepare (openid, options) {
      const mode = options?.mode ?? defaultMode
      if (!modes.includes(mode)) throw new EmulatorError('unsupported_mode', `cannot push in ${String(mode)} mode without an EncodingAESKey`)
      return { url: resolveWebhook(), signing: { token, openid, nowMs: now(), mode, crypto } }
    },

    createTime (openid) {
      const seconds = Math.floor(now() / 1000)
      if (openid === undefined) return seconds
      const createTime = Math.max(seconds, (lastCreateTimes.get(openid) ?? 0) + 1)
      lastCreateTimes.set(openid, createTime)
      return createTime
    },

    async send (push) {
      onSend()
      dispatcher ??= new Agent({ keepAliveTimeout: 10_000 })
      return sendPush(push, { dispatcher, timeoutMs: pushTimeoutMs, crypto })
    },

    async close () {
      const agent = dispatcher
      dispatcher = null
      await agent?.close()
    }
  }
}
