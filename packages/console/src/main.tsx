import "@mantine/core/styles.css"
import "@mantine/charts/styles.css"
import { createTheme, MantineProvider } from "@mantine/core"
import { setNonce } from "get-nonce"
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { App } from "./App.js"

// The server puts a fresh nonce in this meta tag and in the CSP (style-src 'nonce-…'):
// Mantine's <style> tags carry it; no other inline style is allowed.
const nonce = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? ""
// Modals lock the page's scroll with react-remove-scroll, whose <style> tag takes its nonce from get-nonce.
setNonce(nonce)

const theme = createTheme({ primaryColor: "indigo", defaultRadius: "md" })

const root = document.getElementById("root")
if (root !== null)
  createRoot(root).render(
    <StrictMode>
      <MantineProvider theme={theme} defaultColorScheme="light" getStyleNonce={() => nonce}>
        <App />
      </MantineProvider>
    </StrictMode>
  )
