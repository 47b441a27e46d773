package verify

import "time"

// cleanupTimeout bounds cleanup work done after the caller's context has ended.
const cleanupTimeout = 10 * time.Second
