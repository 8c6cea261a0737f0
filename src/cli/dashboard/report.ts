// Kept for `troupe manager --dashboard` (src/cli/manager.ts imports this path); the reporting API lives in ./reporting/.
export * from './reporting/index.js'
