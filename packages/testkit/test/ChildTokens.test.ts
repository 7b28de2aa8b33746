import { childTokenContract } from "../src/contracts/index.js"
import { authServicesMemory } from "../src/memory/AuthMemory.js"

childTokenContract("memory", authServicesMemory())
