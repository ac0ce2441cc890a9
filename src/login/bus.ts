/**
 * "Something changed for this login, look again." Fire-and-forget: the state lives in the store,
 * so a lost message costs a refresh, never a wrong answer. Drivers: Redis pub/sub, in-process.
 */
/** `scanReceivedAt`: when the webhook received the scan behind this change (epoch ms), if the publisher knew; for metrics only. */
export type BusListener = (scanReceivedAt?: number) => void

export interface LoginBus {
  publish (scene: string, scanReceivedAt?: number): Promise<void>
  /**
   * Resolves once the subscription is live, so a caller that reads the store afterwards cannot
   * miss a change. Listeners are also called after a reconnect, since messages may have been lost.
   * Returns the function that removes this listener (and the subscription with the last one).
   */
  subscribe (scene: string, listener: BusListener): Promise<() => Promise<void>>
  close (): Promise<void>
}
