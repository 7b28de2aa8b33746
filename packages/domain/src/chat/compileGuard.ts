import { SchemaAST as AST, Either, Option, ParseResult, Predicate, Schema } from "effect"

/** A yes/no answer to "is this value of the schema's type?", with nothing built on the way. */
export type Guard = (u: unknown) => boolean

/**
 * How a declaration (`Schema.declare`) is checked by `compileGuard`: given the compiler, for the
 * members a declaration dispatches to, it returns the declaration's guard. A declaration without
 * it is checked by its own parser (correct, only not allocation-free).
 */
export const GuardId: unique symbol = Symbol.for("@ibex/domain/chat/Guard")
export type GuardAnnotation = (compile: (ast: AST.AST) => Guard) => Guard

const exactOptions: AST.ParseOptions = { exact: true }

/**
 * The same answer as `Schema.is(schema)` (whose default is `exact: true`) for any value without
 * inherited enumerable properties (everything JSON.parse makes), compiled once into plain
 * closures. Effect's guard runs the full parser, which builds an output object per struct and an
 * `Either` per node: ~12 KB of garbage and ~4 µs for a 4 KB chat request, on every request the
 * proxy forwards. Filters still run through the schema's own `filter`, so a refinement's rule is
 * never written twice; for in-process values a filter sees the value itself where Effect hands it
 * the parsed struct (own keys only), the one difference. Node kinds the chat schema does not use
 * fall back to Effect's own guard for that node. `chatGuard.test.ts` holds the two answers equal
 * on generated near-valid requests.
 */
export const compileGuard = (root: AST.AST): Guard => {
  const memo = new Map<AST.AST, Guard>()
  const compile = (ast: AST.AST): Guard => {
    const known = memo.get(ast)
    if (known !== undefined) return known
    const guard = build(ast, compile)
    memo.set(ast, guard)
    return guard
  }
  return compile(AST.typeAST(root))
}

const effectGuard = (ast: AST.AST): Guard => ParseResult.is(Schema.make(ast))

const build = (ast: AST.AST, compile: (ast: AST.AST) => Guard): Guard => {
  switch (ast._tag) {
    case "StringKeyword":
      return Predicate.isString
    case "NumberKeyword":
      return Predicate.isNumber
    case "BooleanKeyword":
      return Predicate.isBoolean
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal
    }
    case "Refinement": {
      const from = compile(ast.from)
      return (u) => from(u) && Option.isNone(ast.filter(u, exactOptions, ast))
    }
    case "TypeLiteral":
      return ast.indexSignatures.length === 0 ? structGuard(ast, compile) : effectGuard(ast)
    case "TupleType": {
      if (ast.elements.length !== 0 || ast.rest.length !== 1) return effectGuard(ast)
      const item = compile((ast.rest[0] as AST.Type).type)
      return (u) => {
        if (!Array.isArray(u)) return false
        for (let i = 0; i < u.length; i++) if (!item(u[i])) return false
        return true
      }
    }
    case "Union": {
      const members = ast.types.map(compile)
      return (u) => {
        for (const member of members) if (member(u)) return true
        return false
      }
    }
    case "Declaration": {
      const annotation = ast.annotations[GuardId] as GuardAnnotation | undefined
      if (annotation !== undefined) return annotation(compile)
      const parse = ast.decodeUnknown(...ast.typeParameters)
      const fallback = effectGuard(ast)
      return (u) => {
        const result = parse(u, exactOptions, ast)
        return Either.isEither(result) ? Either.isRight(result) : fallback(u)
      }
    }
    case "Suspend": {
      // Compiled on first use: a recursive schema's `typeAST` makes a new node at every level.
      let inner: Guard | undefined
      return (u) => {
        inner ??= compile(ast.f())
        return inner(u)
      }
    }
    default:
      return effectGuard(ast)
  }
}

const structGuard = (ast: AST.TypeLiteral, compile: (ast: AST.AST) => Guard): Guard => {
  const fields = ast.propertySignatures.map((ps) => ({
    name: ps.name,
    optional: ps.isOptional,
    check: compile(ps.type)
  }))
  if (fields.length === 0) return Predicate.isNotNullable
  return (u) => {
    if (!Predicate.isRecord(u)) return false
    for (const field of fields) {
      if (!Object.hasOwn(u, field.name)) {
        if (field.optional) continue
        return false
      }
      if (!field.check(u[field.name])) return false
    }
    return true
  }
}
