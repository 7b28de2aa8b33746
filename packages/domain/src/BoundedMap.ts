/**
 * The one bounded cache map of the code base (auth's validator and agent verifier, the proxy's
 * authorization cache): a Map that holds at most `max` entries and, when full, drops the oldest
 * insertion first. Setting a key again moves it to the back. Expiry is the caller's (entries carry
 * their own deadline), so a lookup costs one Map read and nothing else on the hot path.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>()

  constructor(
    readonly max: number,
    /** Told of every entry dropped to make room (not of deletes or clears the caller asks for). */
    private readonly onEvict?: (key: K, value: V) => void
  ) {
    if (!(max >= 1)) throw new RangeError("BoundedMap needs room for at least one entry")
  }

  get size(): number {
    return this.map.size
  }

  get(key: K): V | undefined {
    return this.map.get(key)
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  set(key: K, value: V): this {
    this.map.delete(key)
    while (this.map.size >= this.max) {
      const oldest = this.map.entries().next()
      if (oldest.done === true) break
      this.map.delete(oldest.value[0])
      this.onEvict?.(oldest.value[0], oldest.value[1])
    }
    this.map.set(key, value)
    return this
  }

  delete(key: K): boolean {
    return this.map.delete(key)
  }

  /** Deletes every entry the predicate accepts (a scan: for rare invalidations, not the hot path). */
  deleteWhere(predicate: (value: V, key: K) => boolean): number {
    let n = 0
    for (const [key, value] of this.map)
      if (predicate(value, key)) {
        this.map.delete(key)
        n++
      }
    return n
  }

  clear(): void {
    this.map.clear()
  }

  keys(): IterableIterator<K> {
    return this.map.keys()
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries()
  }
}
