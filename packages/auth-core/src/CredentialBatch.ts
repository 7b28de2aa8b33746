import type { StoreUnavailable, TokenCredential, TokenId, TokenStoreShape } from "@ibex/domain"
import { Effect, Exit, FiberId, FiberSet, type Scope } from "effect"

/** A lookup's answer: the credential, undefined for an unknown id, or why the store could not say. */
export type LookupResult = Exit.Exit<TokenCredential | undefined, StoreUnavailable>

/**
 * Where the validator's cold lookups wait to be sent together (TokenValidator, "a flood of
 * unknown ids").
 *
 * Why: a token id costs nothing to invent, so a flood of random ids is the cheapest attack on
 * the validator. Each one missed every cache and made its own lookup: a fiber, a database round
 * trip and a pool connection per id. Sent together, they cost one `findCredentials` call per
 * batch, and an unknown id is refused from a callback, without a fiber of its own.
 *
 * A lookup goes out at once while fewer than `maxInFlight` batches are out, so a quiet validator
 * adds no wait at all; the ones that arrive meanwhile wait for the next free slot and go
 * together, `maxBatch` ids at most. (Sent at the end of the microtask queue instead, a tenant's
 * lookup waited behind every fiber a flood had queued, and its first validation took 90–110 ms
 * instead of 60–80.) An id asked for twice while it waits is looked up once.
 */
export interface CredentialBatch {
  /** Looks `tokenId` up now or with the next batch; `onResult` runs once, outside any fiber. */
  readonly lookup: (tokenId: TokenId, onResult: (result: LookupResult) => void) => void
}

type Waiters = Map<TokenId, Array<(result: LookupResult) => void>>

export interface CredentialBatchOptions {
  /** Token ids in one `findCredentials` call at most. */
  readonly maxBatch: number
  /** Calls out at once at most; past it lookups wait and are batched. */
  readonly maxInFlight: number
}

/** A batch over `findCredentials`; lookups still waiting when `scope` closes are answered with an interruption. */
export const makeCredentialBatch = (
  findCredentials: TokenStoreShape["findCredentials"],
  options: CredentialBatchOptions
): Effect.Effect<CredentialBatch, never, Scope.Scope> =>
  Effect.gen(function* () {
    if (!(options.maxBatch >= 1 && options.maxInFlight >= 1))
      return yield* Effect.dieMessage("CredentialBatch needs a batch and a slot of at least 1")
    // Lookups outlive their callers (a flight runs to completion); they live in this scope.
    const run = yield* FiberSet.makeRuntime<never>()
    const pending: Waiters = new Map()
    let inFlight = 0
    let closed = false

    const answer = (batch: Waiters, resultOf: (id: TokenId) => LookupResult) => {
      for (const [id, waiters] of batch) {
        const result = resultOf(id)
        for (const onResult of waiters) onResult(result)
      }
    }
    /** Sends what waits, a batch per free slot. */
    const send = () => {
      while (!closed && pending.size > 0 && inFlight < options.maxInFlight) {
        const batch: Waiters = new Map()
        for (const [id, waiters] of pending) {
          if (batch.size >= options.maxBatch) break
          batch.set(id, waiters)
          pending.delete(id)
        }
        inFlight++
        run(findCredentials([...batch.keys()])).addObserver((exit) => {
          inFlight--
          if (Exit.isFailure(exit)) {
            const failed = Exit.failCause(exit.cause)
            answer(batch, () => failed)
          } else {
            const found = new Map<TokenId, TokenCredential>()
            for (const credential of exit.value) found.set(credential.info.id, credential)
            answer(batch, (id) => Exit.succeed(found.get(id)))
          }
          send()
        })
      }
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        const left = new Map(pending)
        pending.clear()
        answer(left, () => Exit.interrupt(FiberId.none))
      })
    )

    return {
      lookup: (tokenId, onResult) => {
        if (closed) return onResult(Exit.interrupt(FiberId.none))
        const waiters = pending.get(tokenId)
        if (waiters !== undefined) waiters.push(onResult)
        else pending.set(tokenId, [onResult])
        send()
      }
    }
  })
