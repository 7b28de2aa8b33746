/**
 * One environment variable a process reads: each app keeps a catalogue of these beside the
 * Config that reads them, and a test holds docs/CONFIGURATION.md, the catalogues and the code
 * to the same list.
 */
export interface EnvVar {
  readonly name: string
  /** Default when unset; null: optional without a default, or required (see description). */
  readonly default: string | null
  readonly secret: boolean
  readonly description: string
}
