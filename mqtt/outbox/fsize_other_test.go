//go:build !linux

package outbox

// fsizeChild exists so that TestMain builds; the test using it is Linux-only.
func fsizeChild() int { return 2 }
