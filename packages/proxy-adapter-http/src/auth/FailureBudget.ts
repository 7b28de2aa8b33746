import { BoundedMap } from "@ibex/domain"
import { FiberRef } from "effect"

/**
 * The client address a request came from (the socket's peer), set by the edge around the
 * authorize stage, so the authorization cache can charge a remote lookup to it.
 */
export const ClientAddress: FiberRef.FiberRef<string | null> = FiberRef.unsafeMake<string | null>(null)

/** The one charge a remote lookup holds until its answer says whether it was a failure. */
export interface FailureCharge {
  /** The lookup was answered with a refusal: the charge stays spent. */
  readonly spend: () => void
  /** The lookup was accepted (or could not be decided): the charge is returned. */
  readonly refund: () => void
}

/** What a lookup that is not charged holds (no address, no limit, or a token auth accepted before). */
export const notCharged: FailureCharge = { spend: () => {}, refund: () => {} }

interface Bucket {
  /** Failures the address may still cause now, fractional while refilling. */
  tokens: number
  updatedAt: number
}

/**
 * Failed authentications per client address: a bucket of `burst` failures refilling at
 * `perMinute`. A lookup is charged when it is admitted, not when its refusal comes back, so a
 * flood of concurrent guesses from one address reaches auth at most `burst` times, however many
 * arrive at once; an accepted lookup gives its charge back. An address whose bucket is empty is
 * refused at once (429 with Retry-After) for anything that would need auth; what the proxy can
 * answer from its cache (a warm token, a remembered refusal) is never charged, so a busy client
 * behind the same address with a working token is not caught by a neighbour's flood.
 */
export class FailureBudget {
  private readonly buckets: BoundedMap<string, Bucket>
  private readonly perMs: number

  constructor(
    readonly perMinute: number,
    readonly burst: number,
    maxAddresses: number
  ) {
    this.buckets = new BoundedMap(maxAddresses)
    this.perMs = perMinute / 60_000
  }

  /** A charge for one lookup from `address`, or the milliseconds until one is available. */
  admit(address: string | null, now: number): FailureCharge | number {
    if (address === null || this.perMinute <= 0) return notCharged
    const bucket = this.buckets.get(address) ?? { tokens: this.burst, updatedAt: now }
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updatedAt) * this.perMs)
    bucket.updatedAt = now
    if (bucket.tokens < 1) {
      this.buckets.set(address, bucket)
      return Math.ceil((1 - bucket.tokens) / this.perMs)
    }
    bucket.tokens -= 1
    this.buckets.set(address, bucket)
    let settled = false
    return {
      spend: () => {
        settled = true
      },
      refund: () => {
        if (settled) return
        settled = true
        bucket.tokens = Math.min(this.burst, bucket.tokens + 1)
      }
    }
  }
}
