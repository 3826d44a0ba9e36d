//go:build !linux

package outbox

import "os"

// datasync falls back to fsync where fdatasync is not available.
func datasync(f *os.File) error { return f.Sync() }

// readBootID is the default Options.BootID: unknown here, so every unclean
// stop is taken for a power cut, and seqs skip past the reservation.
func readBootID() (string, error) { return "", nil }
