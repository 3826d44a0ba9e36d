//go:build !linux

package link

import "syscall"

// quickAck is Linux's TCP_QUICKACK; elsewhere the kernel's delayed ACKs stay.
func quickAck(syscall.RawConn) {}
