import { SecureRandomWebCrypto } from "@ibex/domain"
import { Layer } from "effect"
import { iamStoreContracts } from "../src/contracts/index.js"
import { IamStoresMemory } from "../src/memory/IamMemory.js"
import { StoresMemory } from "../src/memory/StoresMemory.js"

iamStoreContracts(
  "memory",
  Layer.mergeAll(IamStoresMemory.pipe(Layer.provideMerge(StoresMemory)), SecureRandomWebCrypto)
)
