// The edge bench's token: PAT-shaped (the proxy's cache refuses anything else without asking
// auth), accepted only by the fake auth of bench/edge-fakes.ts. Built here, not written out,
// so no PAT-shaped literal sits in the repository.
export const benchTokenId = "0190a0b0-0000-7000-8000-0000000000f1"
export const benchToken = `ibex_pat_${benchTokenId}_${"A".repeat(43)}`
