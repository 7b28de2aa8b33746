export * from "./fixtures/twoOrgs.js"
export * from "./memory/AuthMemory.js"
export * from "./memory/MemoryDatabase.js"
export * from "./memory/StoresMemory.js"
