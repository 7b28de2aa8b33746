import { authGatewayContract, secretHasherContract, tokenDigestContract } from "@ibex/testkit/contracts"
import { Layer } from "effect"
import { SecretHasherArgon2 } from "../src/SecretHasherArgon2.js"
import { TokenDigestHmac } from "../src/TokenDigestHmac.js"
import { memoryStack, testPepper } from "./harness.js"

// The same contracts the in-memory adapters pass (packages/testkit/test/AuthPortsMemory.test.ts).
secretHasherContract("argon2id", SecretHasherArgon2())
tokenDigestContract("hmac-sha256", TokenDigestHmac(testPepper))
authGatewayContract("grpc", memoryStack().pipe(Layer.orDie))
