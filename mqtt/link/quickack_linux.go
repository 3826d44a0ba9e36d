package link

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAck sends the ACK for what was just read now rather than up to 40 ms
// later. Failing costs only that latency, so errors are ignored.
func quickAck(raw syscall.RawConn) {
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}
