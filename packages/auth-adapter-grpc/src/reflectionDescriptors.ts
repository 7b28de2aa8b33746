import { fromBinary, toBinary } from "@bufbuild/protobuf"
import {
  type DescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema
} from "@bufbuild/protobuf/wkt"
import type { PackageDefinition, ProtobufTypeDefinition } from "@grpc/proto-loader"

/**
 * proto-loader (protobufjs) emits descriptors that protoc never would, and @grpc/reflection
 * serves them as they are (grpc/grpc-node#2595, #2958), so real clients (buf curl, grpcurl)
 * cannot build a schema and report `failed to find service named … in schema`:
 *  - a file's `dependency` list is empty: `ibex_auth_v1.proto` uses `.google.protobuf.Timestamp`
 *    without importing the file that defines it;
 *  - type references are relative (`AgentStatus`, `google.protobuf.Timestamp`), not fully
 *    qualified;
 *  - a map field's entry type is named after the field (`Statuses`), where protobuf requires
 *    `<Field>Entry` (`StatusesEntry`, in grpc.health.v1's `HealthListResponse`).
 * This rewrites each file as protoc would: qualified references, `…Entry` map types, and the
 * files that define what it uses as its dependencies.
 */

const mapEntryName = (field: string) =>
  `${field
    .split("_")
    .map((part) => (part === "" ? "" : part[0]!.toUpperCase() + part.slice(1)))
    .join("")}Entry`

const scopeOf = (file: FileDescriptorProto) => (file.package === "" ? "" : `.${file.package}`)

/** Resolves `ref` as protoc does: from the innermost scope outwards; already qualified stays. */
const resolve = (ref: string, scope: string, known: ReadonlySet<string>): string => {
  if (ref === "" || ref.startsWith(".")) return ref
  for (let s = scope; ; s = s.slice(0, s.lastIndexOf("."))) {
    const candidate = `${s}.${ref}`
    if (known.has(candidate)) return candidate
    if (s === "") return ref
  }
}

const eachMessage = (
  messages: ReadonlyArray<DescriptorProto>,
  scope: string,
  visit: (message: DescriptorProto, name: string) => void
) => {
  for (const message of messages) {
    const name = `${scope}.${message.name}`
    visit(message, name)
    eachMessage(message.nestedType, name, visit)
  }
}

export const normalizeFileDescriptors = (files: ReadonlyArray<FileDescriptorProto>): void => {
  // 1. Every message and enum, fully qualified → its defining file.
  const definedIn = new Map<string, string>()
  for (const file of files) {
    for (const e of file.enumType) definedIn.set(`${scopeOf(file)}.${e.name}`, file.name)
    eachMessage(file.messageType, scopeOf(file), (message, name) => {
      definedIn.set(name, file.name)
      for (const e of message.enumType) definedIn.set(`${name}.${e.name}`, file.name)
    })
  }
  const known = new Set(definedIn.keys())

  // 2. Qualify every reference; rename map entry types (collecting old → new names).
  const renamed = new Map<string, string>()
  for (const file of files) {
    eachMessage(file.messageType, scopeOf(file), (message, name) => {
      for (const field of message.field) field.typeName = resolve(field.typeName, name, known)
      for (const nested of message.nestedType) {
        if (nested.options?.mapEntry !== true) continue
        const owner = message.field.find((f) => f.typeName === `${name}.${nested.name}`)
        if (owner === undefined) continue
        const entry = mapEntryName(owner.name)
        renamed.set(`${name}.${nested.name}`, `${name}.${entry}`)
        nested.name = entry
      }
    })
    for (const service of file.service)
      for (const method of service.method) {
        method.inputType = resolve(method.inputType, scopeOf(file), known)
        method.outputType = resolve(method.outputType, scopeOf(file), known)
      }
  }
  for (const [from, to] of renamed) definedIn.set(to, definedIn.get(from) ?? "")
  const rename = (field: FieldDescriptorProto) => {
    field.typeName = renamed.get(field.typeName) ?? field.typeName
  }

  // 3. Dependencies: the other files defining what this file refers to.
  for (const file of files) {
    const deps = new Set(file.dependency)
    const use = (ref: string) => {
      const owner = definedIn.get(ref)
      if (owner !== undefined && owner !== file.name) deps.add(owner)
    }
    eachMessage(file.messageType, scopeOf(file), (message) => {
      for (const field of message.field) {
        rename(field)
        use(field.typeName)
      }
    })
    for (const service of file.service)
      for (const method of service.method) {
        use(method.inputType)
        use(method.outputType)
      }
    file.dependency = [...deps].sort()
  }
}

const isTypeDefinition = (entry: object): entry is ProtobufTypeDefinition =>
  "format" in entry && "fileDescriptorProtos" in entry && Array.isArray(entry.fileDescriptorProtos)

/**
 * Rewrites, in place, every file descriptor of a freshly loaded definition (see above) and
 * returns it. Message and enum entries carry the descriptors; services only point at them.
 */
export const normalizedForReflection = (definition: PackageDefinition): PackageDefinition => {
  const types = (Object.values(definition) as Array<object>).filter(isTypeDefinition)
  const files = new Map<string, FileDescriptorProto>()
  for (const entry of types)
    for (const bytes of entry.fileDescriptorProtos) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes)
      if (!files.has(file.name)) files.set(file.name, file)
    }
  normalizeFileDescriptors([...files.values()])
  const encoded = new Map(
    [...files].map(([name, file]) => [name, Buffer.from(toBinary(FileDescriptorProtoSchema, file))])
  )
  for (const entry of types)
    entry.fileDescriptorProtos = entry.fileDescriptorProtos.map(
      (bytes) => encoded.get(fromBinary(FileDescriptorProtoSchema, bytes).name) ?? bytes
    )
  return definition
}
