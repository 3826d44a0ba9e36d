package board

import (
	"bytes"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// startFileWatch converts whenever the light file at path is written and
// closed, moved into place (echo 100 > file, or a rename) or away, learning
// of it from inotify: a steady light file costs nothing. Watching the
// directory, not the file, follows a file that is replaced. Where inotify
// cannot watch (no such directory yet, no inotify instances left), it
// converts every simConvertEvery instead, which also notices a directory
// created later.
func startFileWatch(path string, convert func() error) *siminput {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return startTicking(convert)
	}
	dir, name := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_DELETE|unix.IN_MOVED_FROM); err != nil {
		unix.Close(fd)
		return startTicking(convert)
	}
	// A non-blocking descriptor in an *os.File waits in Go's poller, and
	// Close wakes a pending Read.
	f := os.NewFile(uintptr(fd), "inotify")
	s := &siminput{quit: make(chan struct{}), done: make(chan struct{}), closeFn: f.Close}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // closed by stop
			}
			if names(buf[:n], name) {
				convert() // a bad light file shows at the next sample
			}
		}
	}()
	return s
}

// names reports whether a buffer of inotify events holds one about name.
func names(buf []byte, name string) bool {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			return false
		}
		got := bytes.TrimRight(buf[unix.SizeofInotifyEvent:end], "\x00")
		if string(got) == name || ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			return true
		}
		buf = buf[end:]
	}
	return false
}
