// Issues (or keeps, while still usable) a development CA and the internal gRPC's certificates in a
// folder: auth's server certificate (localhost, 127.0.0.1, ::1 and every extra DNS name given),
// a proxy and a CLI client certificate. The same files `npm start` makes for itself; used by
// docker-compose.yml's `migrate` job. Development only: production issues its own
// (docs/OPERATIONS.md, "Internal gRPC certificates").
//
//   npx tsx scripts/dev-certs.ts <dir> [dns-name ...]
import { resolve } from "node:path"
import { ensureDevCertificates } from "@ibex/auth-adapter-grpc"

const [dir, ...serverNames] = process.argv.slice(2)
if (dir === undefined) {
  console.error("usage: npx tsx scripts/dev-certs.ts <dir> [dns-name ...]")
  process.exit(2)
}
const certs = await ensureDevCertificates(resolve(dir), { serverNames })
console.log(JSON.stringify({ event: certs.issued ? "dev_tls_issued" : "dev_tls_kept", dir: certs.dir }))
