import { Context } from "effect"
import type { UsageRecord } from "../usage/UsageRecord.js"

export interface UsageSinkShape {
  /**
   * Hands a record over for storage. Never blocks and never fails the request it describes:
   * the sink buffers, batches and retries, and counts what it had to drop.
   */
  readonly offer: (record: UsageRecord) => void
}

export class UsageSink extends Context.Tag("@ibex/domain/UsageSink")<UsageSink, UsageSinkShape>() {}
