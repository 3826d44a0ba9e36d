//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package outbox

import "os"

// lockDir is a no-op where flock is not available.
func lockDir(*os.File) error { return nil }
