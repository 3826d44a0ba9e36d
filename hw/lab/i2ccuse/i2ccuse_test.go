//go:build linux

package i2ccuse

import (
	"bytes"
	"syscall"
	"testing"
	"unsafe"

	"nightlight/hw/grovehat/grovehatsim"
)

// kernel plays the kernel's side of an unrestricted ioctl on a server: it
// sends FUSE_IOCTL requests, answers each FUSE_IOCTL_RETRY by copying the
// asked-for memory of this process into the next request, as fs/fuse/ioctl.c
// does, and returns the final reply's result and data, and the exchanges.
//
// mem is the memory the ioctl may ask for, by address.
func kernel(t *testing.T, s *Server, cmd uint32, arg uintptr, mem map[uint64][]byte) (int32, []byte, [][2]uint32) {
	t.Helper()
	var in []byte
	var outSize uint32
	var sizes [][2]uint32
	for range 8 {
		sizes = append(sizes, [2]uint32{uint32(len(in)), outSize})
		req := make([]byte, inHeaderSize+ioctlInSize)
		ne.PutUint32(req[4:], opIoctl)
		ne.PutUint64(req[8:], 7)
		b := req[inHeaderSize:]
		ne.PutUint32(b[12:], cmd)
		ne.PutUint64(b[16:], uint64(arg))
		ne.PutUint32(b[24:], uint32(len(in)))
		ne.PutUint32(b[28:], outSize)
		req = append(req, in...)
		var w bytes.Buffer
		s.out = &w
		s.handle(req)
		rep := w.Bytes()
		if len(rep) < outHeaderSize || ne.Uint64(rep[8:]) != 7 {
			t.Fatalf("reply %x", rep)
		}
		if errno := -int32(ne.Uint32(rep[4:])); errno != 0 {
			return -errno, nil, sizes
		}
		o := rep[outHeaderSize:]
		if ne.Uint32(o[4:])&ioctlRetry == 0 {
			return int32(ne.Uint32(o[0:])), o[ioctlOutSize:], sizes
		}
		nIn, nOut := int(ne.Uint32(o[8:])), int(ne.Uint32(o[12:]))
		iov := o[ioctlOutSize:]
		in, outSize = nil, 0
		for i := range nIn + nOut {
			base, n := ne.Uint64(iov[16*i:]), ne.Uint64(iov[16*i+8:])
			if i < nIn {
				m, ok := mem[base]
				if !ok || uint64(len(m)) < n {
					t.Fatalf("the server asked for %d bytes at %#x, which the call did not pass", n, base)
				}
				in = append(in, m[:n]...)
			} else {
				outSize += uint32(n)
			}
		}
	}
	t.Fatal("no final reply after 8 exchanges")
	return 0, nil, nil
}

// i2cMsg and rdwrData are the kernel's structures, laid out by Go as C does.
type i2cMsg struct {
	addr, flags, len uint16
	buf              *byte
}

type rdwrData struct {
	msgs  *i2cMsg
	nmsgs uint32
}

// TestRdwr: one I2C_RDWR with a 1-byte write and a 2-byte read takes the
// exchanges the kernel lab measured (0/0, 16/0, 48/0, 49/2 on 64-bit) and
// answers the emulated hat's register; a NACK is EREMOTEIO.
func TestRdwr(t *testing.T) {
	hat := grovehatsim.New()
	bus := &nackAs{hat}
	s := &Server{name: "i2c-1", bus: bus}

	reg := []byte{0x00}
	var r [2]byte
	msgs := []i2cMsg{{addr: 0x04, len: 1, buf: &reg[0]}, {addr: 0x04, flags: i2cMsgRead, len: 2, buf: &r[0]}}
	data := rdwrData{msgs: &msgs[0], nmsgs: 2}
	mem := map[uint64][]byte{}
	expose := func(p unsafe.Pointer, n uintptr) {
		mem[uint64(uintptr(p))] = unsafe.Slice((*byte)(p), n)
	}
	expose(unsafe.Pointer(&data), unsafe.Sizeof(data))
	expose(unsafe.Pointer(&msgs[0]), uintptr(len(msgs))*unsafe.Sizeof(msgs[0]))
	expose(unsafe.Pointer(&reg[0]), 1)
	res, out, sizes := kernel(t, s, ioctlI2CRdwr, uintptr(unsafe.Pointer(&data)), mem)
	if res != 2 || !bytes.Equal(out, []byte{0x04, 0x00}) {
		t.Fatalf("I2C_RDWR: result %d, data %x; want 2 and the product id 04 00", res, out)
	}
	if ptrSize == 8 {
		want := [][2]uint32{{0, 0}, {16, 0}, {48, 0}, {49, 2}}
		if len(sizes) != len(want) {
			t.Fatalf("exchanges %v, want %v", sizes, want)
		}
		for i := range want {
			if sizes[i] != want[i] {
				t.Fatalf("exchanges %v, want %v", sizes, want)
			}
		}
	}

	msgs[0].addr, msgs[1].addr = 0x05, 0x05
	if res, _, _ := kernel(t, s, ioctlI2CRdwr, uintptr(unsafe.Pointer(&data)), mem); res != -int32(syscall.EREMOTEIO) {
		t.Fatalf("nobody at 0x05: result %d, want -EREMOTEIO", res)
	}

	var funcs uint64
	res, out, _ = kernel(t, s, ioctlI2CFuncs, uintptr(unsafe.Pointer(&funcs)), mem)
	if res != 0 || len(out) != ptrSize || out[0]&i2cFuncI2C == 0 {
		t.Fatalf("I2C_FUNCS: result %d, data %x", res, out)
	}
	if res, _, _ := kernel(t, s, 0x703, 0x04, mem); res != -int32(syscall.ENOTTY) {
		t.Fatalf("I2C_SLAVE: result %d, want -ENOTTY", res)
	}
}

// nackAs reports the emulated hat's NACK as the Pi's controller does.
type nackAs struct{ *grovehatsim.Hat }

func (n *nackAs) Tx(addr uint16, w, r []byte) error {
	err := n.Hat.Tx(addr, w, r)
	if err == grovehatsim.ErrNoAck {
		return syscall.EREMOTEIO
	}
	return err
}
