import { Layer } from "effect"
import { authGatewayContract, secretHasherContract, tokenDigestContract } from "../src/contracts/index.js"
import { authStackMemory, SecretHasherMemory, TokenDigestMemory } from "../src/memory/AuthMemory.js"

secretHasherContract("memory", SecretHasherMemory)
tokenDigestContract("memory", TokenDigestMemory)
authGatewayContract("memory", authStackMemory().pipe(Layer.orDie))
