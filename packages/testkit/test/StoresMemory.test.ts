import { SecureRandomWebCrypto } from "@ibex/domain"
import { Layer } from "effect"
import { platformAdminStoreContract, storeContracts } from "../src/contracts/index.js"
import { SecretHasherMemory } from "../src/memory/AuthMemory.js"
import { StoresMemory } from "../src/memory/StoresMemory.js"

storeContracts("memory", Layer.mergeAll(StoresMemory, SecretHasherMemory, SecureRandomWebCrypto))
platformAdminStoreContract("memory", StoresMemory)
