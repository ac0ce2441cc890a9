/**
 * "Something changed for this login, look again." Fire-and-forget: the state lives in the store,
 * so a lost message costs a refresh, never a wrong answer. Drivers: Redis pub/sub, in-process.
 */
export type BusListener = () => void

export interface LoginBus {
  publish (scene: string): Promise<void>
  /**
   * Resolves once the subscription is live, so a caller that reads the store afterwards cannot
   * miss a change. Listeners are also called after a reconnect, since messages may have been lost.
   * Returns the function that removes this listener (and the subscription with the last one).
   */
  subscribe (scene: string, listener: BusListener): Promise<() => Promise<void>>
  close (): Promise<void>
}
