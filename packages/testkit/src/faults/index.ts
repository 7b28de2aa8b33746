export * from "./TcpFaultProxy.js"
