/** What the helpers need of a test: somewhere to register cleanup. A tap Test is one; so is a benchmark's scope. */
export interface Scope {
  after (cleanup: () => unknown): void
}
