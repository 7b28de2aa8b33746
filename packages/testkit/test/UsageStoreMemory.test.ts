import { SecureRandomWebCrypto } from "@ibex/domain"
import { Layer } from "effect"
import { usageStoreContract } from "../src/contracts/index.js"
import { SecretHasherMemory } from "../src/memory/AuthMemory.js"
import { StoresMemory } from "../src/memory/StoresMemory.js"

usageStoreContract("memory", Layer.mergeAll(StoresMemory, SecretHasherMemory, SecureRandomWebCrypto))
