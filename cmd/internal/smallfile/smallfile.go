// Package smallfile reads the small files the programs are pointed at (the
// configuration, the broker password, the TLS files, the kept choices; the
// simulated light file is read by hw/board by the same rules, as hw may not
// import cmd/) with a bound fit for each kind, so that a wrong
// path in a setting cannot make a daemon read without end: a file over its
// bound, a directory, a device (/dev/zero), a socket or a named pipe is
// refused with a message that names the setting and what to do. A pipe must
// not hang the program either: the file is opened without blocking and its
// kind checked before a byte is read.
package smallfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Bounds of the files the programs read, each well above the largest
// legitimate file of its kind.
const (
	MaxConfig   = 256 << 10 // a YAML configuration: a few kB
	MaxPassword = 4 << 10   // a broker password
	MaxCA       = 1 << 20   // a CA bundle: Debian's whole ca-certificates.crt is ~220 kB
	MaxCert     = 64 << 10  // a client certificate with its chain
	MaxKey      = 64 << 10  // a private key
	MaxChoices  = 4 << 10   // the kept choices: under 100 bytes
)

// ErrTooLarge is wrapped by Read's error for a file over its bound.
var ErrTooLarge = errors.New("too large")

// Refused reports whether err is Read refusing the file itself (too large,
// or not a regular file), whose message already says what to do.
func Refused(err error) bool { return errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotRegular) }

// ErrNotRegular is wrapped by Read's error for a directory, device, socket
// or named pipe.
var ErrNotRegular = errors.New("not a regular file")

// Read returns the content of the regular file at path, at most max bytes.
// what names the file in errors ("config file", "ca_file"). A missing file's
// error wraps fs.ErrNotExist, so callers can tell it apart.
func Read(path string, max int64, what string) ([]byte, error) {
	// O_NONBLOCK: opening a named pipe for reading waits for a writer
	// otherwise, and the program would hang before it could refuse it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := checkKind(fi, path, what); err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, tooLarge(path, what, fmt.Sprintf("%d bytes", fi.Size()), max)
	}
	// The file may grow between Stat and the read: read one byte more than
	// allowed to notice.
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if int64(len(data)) > max {
		return nil, tooLarge(path, what, "over "+fmt.Sprint(max)+" bytes", max)
	}
	return data, nil
}

func checkKind(fi fs.FileInfo, path, what string) error {
	m := fi.Mode()
	var kind string
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	default:
		kind = "not a regular file"
	}
	return fmt.Errorf("%s %s is %s (%w): point it at a regular file", what, path, kind, ErrNotRegular)
}

func tooLarge(path, what, size string, max int64) error {
	return fmt.Errorf("%s %s is %s, over its limit of %d bytes (%w): point it at the right file", what, path, size, max, ErrTooLarge)
}
