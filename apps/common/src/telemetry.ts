import { NodeSdk } from "@effect/opentelemetry"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Option } from "effect"

/**
 * OpenTelemetry for one process (the auth service, the proxy, or both under `npm start`). OTEL_EXPORTER_OTLP_ENDPOINT set: spans (batched) and Effect metrics (every
 * 15 s) go to `<endpoint>/v1/traces` and `<endpoint>/v1/metrics` over OTLP/HTTP. Unset: no
 * exporter and no SDK provider; spans are Effect's own, which still carry real W3C trace ids,
 * so X-Trace-ID, traceparent propagation and log correlation work the same.
 */
export interface TelemetryConfig {
  readonly serviceName: string
  readonly serviceVersion: string
  readonly otlpEndpoint: Option.Option<string>
}

export const telemetryConfig = (defaultServiceName: string, serviceVersion: string): Config.Config<TelemetryConfig> =>
  Config.all({
    serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault(defaultServiceName)),
    serviceVersion: Config.succeed(serviceVersion),
    otlpEndpoint: Config.option(
      Config.string("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(
        Config.validate({
          message: "OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL",
          validation: (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol)
        })
      )
    )
  })

export const TelemetryLive = (config: TelemetryConfig) =>
  NodeSdk.layer(() => {
    const resource = { serviceName: config.serviceName, serviceVersion: config.serviceVersion }
    if (Option.isNone(config.otlpEndpoint)) return { resource }
    const base = config.otlpEndpoint.value.replace(/\/+$/, "")
    return {
      resource,
      spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` })),
      metricReader: new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
        exportIntervalMillis: 15_000
      })
    }
  })
