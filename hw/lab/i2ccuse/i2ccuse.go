//go:build linux

package i2ccuse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/i2c"
)

// FUSE and CUSE opcodes and flags, from the kernel's include/uapi/linux/fuse.h.
const (
	opForget      = 2
	opOpen        = 14
	opRelease     = 18
	opInterrupt   = 36
	opIoctl       = 39
	opPoll        = 40
	opBatchForget = 42
	opCuseInit    = 4096

	fuseKernelMajor       = 7
	fuseMinMinor          = 11 // the oldest minor the kernel's CUSE accepts
	cuseUnrestrictedIoctl = 1 << 0
	ioctlRetry            = 1 << 2
	maxIOV                = 256 // FUSE_IOCTL_MAX_IOV

	inHeaderSize  = 40
	outHeaderSize = 16
	ioctlInSize   = 32
	ioctlOutSize  = 16
)

// i2c-dev's ioctls and structures, from include/uapi/linux/i2c-dev.h and
// i2c.h.
const (
	ioctlI2CFuncs = 0x705
	ioctlI2CRdwr  = 0x707
	i2cMsgRead    = 0x0001
	i2cFuncI2C    = 0x00000001
	maxMsgs       = 42 // I2C_RDWR_IOCTL_MAX_MSGS

	ptrSize  = int(unsafe.Sizeof(uintptr(0)))
	rdwrSize = 2 * ptrSize // struct i2c_rdwr_ioctl_data: a pointer and a u32, padded
	msgBuf   = 8           // offset of i2c_msg.buf: three u16 fields, padded
	msgSize  = msgBuf + ptrSize
)

var ne = binary.NativeEndian

// closeWait bounds how long Close waits for the serving goroutine.
const closeWait = 2 * time.Second

// Server is one CUSE device serving a bus. It owns one goroutine, started by
// Start and ended by Close.
type Server struct {
	name string
	bus  i2c.Bus
	f    *os.File
	out  io.Writer // where replies go: f

	done chan struct{}
	mu   sync.Mutex
	err  error // why serving ended, if not by Close
	fh   uint64
}

// Start registers the character device /dev/i2c-<n> with the kernel's CUSE
// (the cuse module must be loaded, and the caller root) and serves bus on
// it until Close. The device file appears a moment later: see WaitDevice.
func Start(n int, bus i2c.Bus) (*Server, error) {
	if n < 0 {
		return nil, fmt.Errorf("i2ccuse: bus number %d: must be 0 or more", n)
	}
	fd, err := unix.Open("/dev/cuse", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("i2ccuse: open /dev/cuse: %w (load the cuse module, run as root)", err)
	}
	// A non-blocking descriptor in an *os.File waits in Go's poller, so
	// that Close ends a pending Read.
	s := &Server{
		name: "i2c-" + strconv.Itoa(n),
		bus:  bus,
		f:    os.NewFile(uintptr(fd), "/dev/cuse"),
		done: make(chan struct{}),
	}
	s.out = s.f
	go s.serve()
	return s, nil
}

// Path is the device file the server provides, e.g. /dev/i2c-1.
func (s *Server) Path() string { return filepath.Join("/dev", s.name) }

// WaitDevice waits up to d for the device file to appear.
func (s *Server) WaitDevice(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(s.Path()); err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("i2ccuse: %s: the server stopped before the device appeared: %w", s.Path(), s.Err())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("i2ccuse: %s did not appear within %s (is devtmpfs mounted on /dev?)", s.Path(), d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Err tells why the server stopped serving on its own; nil while it serves
// or after Close.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close removes the device and ends the serving goroutine, waiting for it
// at most two seconds.
func (s *Server) Close() error {
	err := s.f.Close()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		return fmt.Errorf("i2ccuse: %s: the server did not stop within %s", s.name, closeWait)
	}
	return err
}

func (s *Server) serve() {
	defer close(s.done)
	// A request is at most max_write (4096, as answered in init) plus its
	// headers, or an ioctl's input: the i2c_msg array and its write
	// buffers, at most 42 messages of 64 KiB.
	buf := make([]byte, 4<<20)
	for {
		n, err := s.f.Read(buf)
		switch {
		case errors.Is(err, os.ErrClosed):
			return
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EINTR):
			continue // a request the kernel withdrew
		case err != nil:
			s.mu.Lock()
			s.err = fmt.Errorf("i2ccuse: read /dev/cuse: %w", err)
			s.mu.Unlock()
			return
		}
		s.handle(buf[:n])
	}
}

// handle answers one request.
func (s *Server) handle(req []byte) {
	if len(req) < inHeaderSize {
		return
	}
	opcode := ne.Uint32(req[4:])
	unique := ne.Uint64(req[8:])
	body := req[inHeaderSize:]
	switch opcode {
	case opCuseInit:
		s.reply(unique, s.init(body))
	case opOpen:
		s.mu.Lock()
		s.fh++
		fh := s.fh
		s.mu.Unlock()
		out := make([]byte, 16) // fuse_open_out: fh, open_flags, padding
		ne.PutUint64(out, fh)
		s.reply(unique, reply{data: out})
	case opRelease:
		s.reply(unique, reply{})
	case opIoctl:
		s.reply(unique, s.ioctl(body))
	case opInterrupt, opForget, opBatchForget:
		// No reply is expected.
	default:
		// FUSE_POLL among others: ENOSYS makes the kernel report the
		// device always ready.
		s.reply(unique, reply{errno: syscall.ENOSYS})
	}
}

// reply is an answer: an errno, or data.
type reply struct {
	errno syscall.Errno
	data  []byte
}

func (s *Server) reply(unique uint64, r reply) {
	out := make([]byte, outHeaderSize, outHeaderSize+len(r.data))
	if r.errno == 0 {
		out = append(out, r.data...)
	}
	ne.PutUint32(out[0:], uint32(len(out)))
	ne.PutUint32(out[4:], uint32(-int32(r.errno)))
	ne.PutUint64(out[8:], unique)
	// ENOENT: the kernel gave up on the request meanwhile; nothing to do.
	s.out.Write(out)
}

// init answers CUSE_INIT: the protocol version, unrestricted ioctls, and the
// device's name.
func (s *Server) init(body []byte) reply {
	if len(body) < 16 {
		return reply{errno: syscall.EPROTO}
	}
	major, minor := ne.Uint32(body[0:]), ne.Uint32(body[4:])
	if major != fuseKernelMajor || minor < fuseMinMinor {
		s.mu.Lock()
		s.err = fmt.Errorf("i2ccuse: kernel speaks FUSE %d.%d, need 7.%d or later", major, minor, fuseMinMinor)
		s.mu.Unlock()
		return reply{errno: syscall.EPROTO}
	}
	// cuse_init_out: major, minor, unused, flags, max_read, max_write,
	// dev_major, dev_minor (0, 0: a dynamic number), spare[10].
	out := make([]byte, 72)
	ne.PutUint32(out[0:], fuseKernelMajor)
	ne.PutUint32(out[4:], minor)
	ne.PutUint32(out[12:], cuseUnrestrictedIoctl)
	ne.PutUint32(out[16:], 4096)
	ne.PutUint32(out[20:], 4096)
	out = append(out, "DEVNAME="+s.name+"\x00"...)
	return reply{data: out}
}

// iovec is a piece of the calling program's memory, for FUSE_IOCTL_RETRY.
type iovec struct{ base, len uint64 }

// retry asks the kernel to call again with the memory in in copied to the
// request and out's sizes available for the answer.
func retry(in, out []iovec) reply {
	if len(in)+len(out) > maxIOV {
		return reply{errno: syscall.EINVAL}
	}
	data := make([]byte, ioctlOutSize, ioctlOutSize+16*(len(in)+len(out)))
	ne.PutUint32(data[4:], ioctlRetry)
	ne.PutUint32(data[8:], uint32(len(in)))
	ne.PutUint32(data[12:], uint32(len(out)))
	for _, v := range append(append([]iovec(nil), in...), out...) {
		data = ne.AppendUint64(data, v.base)
		data = ne.AppendUint64(data, v.len)
	}
	return reply{data: data}
}

// done is an ioctl's result and the bytes it writes back.
func done(result int32, out []byte) reply {
	data := make([]byte, ioctlOutSize, ioctlOutSize+len(out))
	ne.PutUint32(data[0:], uint32(result))
	return reply{data: append(data, out...)}
}

func (s *Server) ioctl(body []byte) reply {
	if len(body) < ioctlInSize {
		return reply{errno: syscall.EPROTO}
	}
	cmd := ne.Uint32(body[12:])
	arg := ne.Uint64(body[16:])
	inSize, outSize := ne.Uint32(body[24:]), ne.Uint32(body[28:])
	in := body[ioctlInSize:]
	if uint32(len(in)) < inSize {
		return reply{errno: syscall.EPROTO}
	}
	in = in[:inSize]
	switch cmd {
	case ioctlI2CFuncs:
		if outSize < uint32(ptrSize) {
			return retry(nil, []iovec{{arg, uint64(ptrSize)}})
		}
		out := make([]byte, ptrSize)
		ne.PutUint32(out, i2cFuncI2C)
		return done(0, out)
	case ioctlI2CRdwr:
		return s.rdwr(arg, in, outSize)
	}
	return reply{errno: syscall.ENOTTY}
}

// msg is one i2c_msg.
type msg struct {
	addr, flags uint16
	buf         uint64
	len         int
}

func (m msg) read() bool { return m.flags&i2cMsgRead != 0 }

// rdwr answers I2C_RDWR, asking for the argument, the message array and the
// buffers in turn.
func (s *Server) rdwr(arg uint64, in []byte, outSize uint32) reply {
	if len(in) < rdwrSize {
		return retry([]iovec{{arg, uint64(rdwrSize)}}, nil)
	}
	msgsAt := ptrAt(in, 0)
	nmsgs := int(ne.Uint32(in[ptrSize:]))
	if nmsgs == 0 || nmsgs > maxMsgs {
		return reply{errno: syscall.EINVAL}
	}
	head := []iovec{{arg, uint64(rdwrSize)}, {msgsAt, uint64(nmsgs * msgSize)}}
	if len(in) < rdwrSize+nmsgs*msgSize {
		return retry(head, nil)
	}
	msgs := make([]msg, nmsgs)
	inIOV, outIOV := head, []iovec(nil)
	wantIn, wantOut := rdwrSize+nmsgs*msgSize, 0
	for i := range msgs {
		b := in[rdwrSize+i*msgSize:]
		m := msg{addr: ne.Uint16(b[0:]), flags: ne.Uint16(b[2:]), len: int(ne.Uint16(b[4:])), buf: ptrAt(b, msgBuf)}
		msgs[i] = m
		switch {
		case m.len == 0:
		case m.read():
			outIOV = append(outIOV, iovec{m.buf, uint64(m.len)})
			wantOut += m.len
		default:
			inIOV = append(inIOV, iovec{m.buf, uint64(m.len)})
			wantIn += m.len
		}
	}
	if len(in) < wantIn || int(outSize) < wantOut {
		return retry(inIOV, outIOV)
	}
	out, err := s.transfer(msgs, in[rdwrSize+nmsgs*msgSize:], wantOut)
	if err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			errno = syscall.EIO
		}
		return reply{errno: errno}
	}
	return done(int32(nmsgs), out)
}

// transfer runs the messages on the bus: a write followed by a read of the
// same address as one transaction (a repeated start), any other message
// alone. writes holds the write buffers in order; the read buffers are
// returned in order.
func (s *Server) transfer(msgs []msg, writes []byte, outLen int) ([]byte, error) {
	out := make([]byte, 0, outLen)
	take := func(m msg) []byte {
		w := writes[:m.len:m.len]
		writes = writes[m.len:]
		return w
	}
	for i := 0; i < len(msgs); i++ {
		m := msgs[i]
		var w, r []byte
		if m.read() {
			r = make([]byte, m.len)
		} else {
			w = take(m)
			if i+1 < len(msgs) && msgs[i+1].read() && msgs[i+1].addr == m.addr {
				i++
				r = make([]byte, msgs[i].len)
			}
		}
		if err := s.bus.Tx(m.addr, w, r); err != nil {
			return nil, err
		}
		out = append(out, r...)
	}
	return out, nil
}

// ptrAt reads a pointer of the calling program's architecture.
func ptrAt(b []byte, off int) uint64 {
	if ptrSize == 8 {
		return ne.Uint64(b[off:])
	}
	return uint64(ne.Uint32(b[off:]))
}
